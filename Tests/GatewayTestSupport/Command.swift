import Foundation

/// A short command a test runs to its end (a tool, a script), as opposed to a server it starts
/// (`ChildProcess`): its exit status and what it printed.
public enum Command {
    /// `stderr`: merged into the output, or discarded.
    public static func run(
        _ executable: String, _ arguments: [String], in directory: String? = nil, mergeStandardError: Bool = true
    ) throws -> (status: Int32, output: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments
        if let directory { p.currentDirectoryURL = URL(fileURLWithPath: directory) }
        let out = Pipe()
        p.standardOutput = out
        p.standardError = mergeStandardError ? out : FileHandle.nullDevice
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
