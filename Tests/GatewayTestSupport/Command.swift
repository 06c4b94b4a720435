import Foundation

/// How a short command ended and what it printed.
public struct CommandResult: Sendable {
    /// Its exit code, or 128 + the signal that ended it, as a shell says it.
    public let status: Int32
    /// The signal that ended it, if one did.
    public let signal: Int32?
    /// Its standard output (with its standard error when that was merged), as bytes.
    public let outputData: Data
    /// Its standard error, when kept apart, as bytes.
    public let errorData: Data

    /// Its standard output (with its standard error when that was merged).
    public var output: String { String(decoding: outputData, as: UTF8.self) }
    /// Its standard error, when kept apart.
    public var error: String { String(decoding: errorData, as: UTF8.self) }
}

/// A command that had not ended by its deadline. It was killed, with everything below it.
public struct CommandTimedOut: Error, CustomStringConvertible {
    public let command: [String]
    public let seconds: TimeInterval
    public let printed: String
    public var description: String {
        "`\(command.joined(separator: " "))` had not ended after \(Int(seconds)) s and was killed; it printed: "
            + (printed.isEmpty ? "nothing" : String(printed.suffix(2_000)))
    }
}

/// A short command a test runs to its end (a tool, a script, the built binary), as opposed to a
/// server it starts (`ChildProcess`). Never Foundation's `Process`: its pipes are not
/// close-on-exec and its child keeps whatever else this process had open (see `Spawn`).
///
/// Every wait has a deadline, and the wait ends when the command ends: what it wrote is read
/// until it exits, then whatever is left in the pipe, even if something it started still holds
/// the pipe open.
public enum Command {
    /// Long enough for any one command of the suite on a loaded two-core machine; the suite's own
    /// deadline (scripts/test) is longer.
    public static let defaultTimeout: TimeInterval = 600

    public enum StandardError: Sendable { case merged, separate, discarded }

    /// Runs `executable` with `arguments`; its exit status and output (standard error merged into
    /// it, or discarded).
    public static func run(
        _ executable: String, _ arguments: [String], in directory: String? = nil, environment: [String: String]? = nil,
        mergeStandardError: Bool = true, timeout: TimeInterval = defaultTimeout
    ) throws -> (status: Int32, output: String) {
        let r = try capture(
            [executable] + arguments, in: directory, environment: environment,
            standardError: mergeStandardError ? .merged : .discarded, timeout: timeout)
        return (r.status, r.output)
    }

    /// Runs `arguments` with `input` as its standard input (none: /dev/null) and returns how it
    /// ended with its output and error. `environment` replaces this process's own when given.
    public static func capture(
        _ arguments: [String], in directory: String? = nil, environment: [String: String]? = nil, input: Data? = nil,
        standardError: StandardError = .separate, timeout: TimeInterval = defaultTimeout
    ) throws -> CommandResult {
        let stdin = try inputDescriptor(input)
        defer { close(stdin) }
        let out = try Spawn.pipe()
        let err: (read: Int32, write: Int32)? = standardError == .separate ? try Spawn.pipe() : nil
        let discard = standardError == .discarded ? try Spawn.open("/dev/null", O_WRONLY) : -1
        let stderrTarget = err?.write ?? (standardError == .merged ? out.write : discard)
        let pid: pid_t
        do {
            pid = try Spawn.start(
                arguments, directory: directory, environment: environment, stdin: stdin, stdout: out.write, stderr: stderrTarget)
        } catch {
            for fd in [out.read, out.write, err?.read ?? -1, err?.write ?? -1, discard] where fd >= 0 { close(fd) }
            throw error
        }
        // Only the child holds the write ends now.
        close(out.write)
        if let err { close(err.write) }
        if discard >= 0 { close(discard) }

        var streams = [Stream(fd: out.read)] + (err.map { [Stream(fd: $0.read)] } ?? [])
        defer { streams.forEach { close($0.fd) } }
        let deadline = Date().addingTimeInterval(timeout)
        var status: Int32?
        while true {
            if status == nil { status = Spawn.reapIfEnded(pid) }
            if status != nil {
                // Ended: what it wrote is in the pipes now. Anything it left running that still
                // holds them is not waited for.
                for i in streams.indices { streams[i].drain() }
                break
            }
            guard Date() < deadline else {
                _ = Spawn.killTree(pid)
                for i in streams.indices { streams[i].drain() }
                throw CommandTimedOut(
                    command: arguments, seconds: timeout,
                    printed: streams.map { String(decoding: $0.bytes, as: UTF8.self) }.joined(separator: "\n"))
            }
            let open = streams.indices.filter { !streams[$0].ended }
            if open.isEmpty {
                usleep(2_000)  // both pipes closed: the exit is a moment away
                continue
            }
            var polled = open.map { pollfd(fd: streams[$0].fd, events: Int16(POLLIN), revents: 0) }
            let ready = poll(&polled, nfds_t(polled.count), 50)
            guard ready > 0 else { continue }  // time to look at the child again (or EINTR)
            for (k, i) in open.enumerated() where polled[k].revents != 0 { streams[i].readOnce() }
        }
        let (code, signal) = Spawn.exitCode(status ?? 0)
        return CommandResult(
            status: code, signal: signal, outputData: Data(streams[0].bytes), errorData: Data(streams.count > 1 ? streams[1].bytes : []))
    }

    /// /dev/null, or an unlinked temporary file holding `input` (a file, not a pipe: nothing to
    /// feed while reading, and nothing blocks if the command never reads it).
    static func inputDescriptor(_ input: Data?) throws -> Int32 {
        guard let input else { return try Spawn.open("/dev/null", O_RDONLY) }
        let path = NSTemporaryDirectory() + "caas-command-input-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
        let fd = try Spawn.open(path, O_RDWR | O_CREAT | O_EXCL, mode: 0o600)
        unlink(path)
        var written = 0
        try input.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            while written < raw.count {
                let n = write(fd, raw.baseAddress! + written, raw.count - written)
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else {
                    close(fd)
                    throw SpawnError("cannot write a command's input: \(String(cString: strerror(errno)))")
                }
                written += n
            }
        }
        lseek(fd, 0, SEEK_SET)
        return fd
    }

    /// One pipe's read end and what came out of it.
    struct Stream {
        let fd: Int32
        var bytes: [UInt8] = []
        var ended = false

        init(fd: Int32) { self.fd = fd }

        /// One read of what is there (poll said something is).
        mutating func readOnce() {
            var chunk = [UInt8](repeating: 0, count: 65_536)
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n > 0 {
                bytes += chunk[0..<n]
            } else if n == 0 || (errno != EINTR && errno != EAGAIN) {
                ended = true
            }
        }

        /// Everything still in the pipe, without waiting for a writer that may never close it.
        mutating func drain() {
            guard !ended else { return }
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            while !ended {
                var chunk = [UInt8](repeating: 0, count: 65_536)
                let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if n > 0 {
                    bytes += chunk[0..<n]
                } else if n < 0 && errno == EINTR {
                    continue
                } else {
                    ended = true  // end of file, or nothing more right now
                }
            }
        }
    }
}
