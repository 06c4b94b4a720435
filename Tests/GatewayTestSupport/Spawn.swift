import CSpawn
import Foundation

/// The one way the tests start a process. Every child gets exactly the three descriptors meant
/// for it and nothing else of this process: the tests run in parallel, and a server started
/// while another test reads a short command's pipe would otherwise inherit that pipe's write end
/// and keep the reader from ever seeing end-of-file (issue 31: `TestPostgres` held an `openssl`
/// pipe open for the whole run). Pipes and files opened here are close-on-exec as well, so a
/// child started by anything else does not inherit them either.
public enum Spawn {
    /// Starts `arguments` (`arguments[0]` is looked up in PATH unless it holds a `/`) with `stdin`,
    /// `stdout` and `stderr` as its standard descriptors. `environment` replaces this process's
    /// own when given; `directory` is where it starts.
    public static func start(
        _ arguments: [String], directory: String? = nil, environment: [String: String]? = nil,
        stdin: Int32, stdout: Int32, stderr: Int32
    ) throws -> pid_t {
        guard let executable = arguments.first else { throw SpawnError("nothing to start") }
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var envp: [UnsafeMutablePointer<CChar>?]? = environment.map { env in env.map { strdup("\($0.key)=\($0.value)") } + [nil] }
        defer { envp?.forEach { free($0) } }
        var pid: pid_t = 0
        let searchPath: Int32 = executable.contains("/") ? 0 : 1
        let rc: Int32 = argv.withUnsafeMutableBufferPointer { a in
            if envp != nil {
                return envp!.withUnsafeMutableBufferPointer { e in
                    caas_spawn(&pid, executable, a.baseAddress, e.baseAddress, directory, stdin, stdout, stderr, searchPath)
                }
            }
            return caas_spawn(&pid, executable, a.baseAddress, environ, directory, stdin, stdout, stderr, searchPath)
        }
        guard rc == 0 else { throw SpawnError("cannot start \(executable): \(String(cString: strerror(rc)))") }
        return pid
    }

    /// A pipe whose ends no child inherits: (read end, write end).
    public static func pipe() throws -> (read: Int32, write: Int32) {
        var fds: [Int32] = [-1, -1]
        guard caas_pipe_cloexec(&fds) == 0 else { throw SpawnError("pipe: \(String(cString: strerror(errno)))") }
        return (fds[0], fds[1])
    }

    /// Opens `path` close-on-exec.
    public static func open(_ path: String, _ flags: Int32, mode: mode_t = 0o644) throws -> Int32 {
        let fd = caas_open_cloexec(path, flags, mode)
        guard fd >= 0 else { throw SpawnError("cannot open \(path): \(String(cString: strerror(errno)))") }
        return fd
    }

    /// How a reaped child ended, as a shell says it: its exit code, or 128 + the signal.
    static func exitCode(_ status: Int32) -> (code: Int32, signal: Int32?) {
        let signal = status & 0x7F
        return signal == 0 ? ((status >> 8) & 0xFF, nil) : (128 + signal, signal)
    }

    /// Reaps `pid` if it has ended; its raw wait status, or nil while it runs.
    static func reapIfEnded(_ pid: pid_t) -> Int32? {
        var status: Int32 = 0
        while true {
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid { return status }
            if r == 0 { return nil }
            if errno == EINTR { continue }
            return nil  // not our child (already reaped): treat as running, the caller's deadline ends it
        }
    }

    /// Kills `pid` and every process below it at once, then reaps `pid` (a SIGKILL cannot be
    /// refused, so this ends; it waits 10 s at the most for a process stuck in the kernel).
    static func killTree(_ pid: pid_t) -> Int32? {
        for process in [pid] + descendants(of: pid) { kill(process, SIGKILL) }
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            if let status = reapIfEnded(pid) { return status }
            usleep(5_000)
        }
        return nil
    }

    /// Every process below `pid`, from /proc.
    public static func descendants(of pid: pid_t) -> [pid_t] {
        var parent: [pid_t: pid_t] = [:]
        for name in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let p = pid_t(name), let stat = try? String(contentsOfFile: "/proc/\(name)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { continue }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if fields.count > 1, let pp = pid_t(fields[1]) { parent[p] = pp }
        }
        var out: [pid_t] = []
        var frontier = [pid]
        while let next = frontier.popLast() {
            let children = parent.filter { $0.value == next }.map(\.key)
            out += children
            frontier += children
        }
        return out
    }
}

public struct SpawnError: Error, CustomStringConvertible {
    public let description: String
    init(_ d: String) { description = d }
}
