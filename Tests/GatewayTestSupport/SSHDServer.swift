import Foundation

/// A real OpenSSH server for tests, on 127.0.0.1 and a free high port, with its own host key,
/// a test client key and the internal SFTP server. Started by absolute path and stopped by PID,
/// with every process below it, so the connections it serves die with it.
/// Used from one test at a time; `stop()` may be called from a transfer callback on that test's thread.
public final class SSHDServer: @unchecked Sendable {
    public let dir: String
    public let port: Int
    public let user: String
    public private(set) var hostKey: String
    public let clientKey: String
    public var knownHosts: String { dir + "/known_hosts" }
    /// sshd's pid. Started with posix_spawn, not Foundation's Process: on Linux, Process reaps
    /// children from one thread with a blocking wait4, so a long-lived sshd would stop it from
    /// ever noticing that a short ssh-keygen has exited.
    private var pid: pid_t?

    public init(clientPassphrase: String = "") throws {
        dir = Fixtures.tempDir("sshd")
        port = try Self.freePort()
        user = String(cString: getpwuid(getuid()).pointee.pw_name)
        hostKey = dir + "/host_ed25519"
        clientKey = dir + "/client_ed25519"
        try FileManager.default.createDirectory(
            atPath: "/run/sshd", withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        try Self.keygen(hostKey, passphrase: "")
        try Self.keygen(clientKey, passphrase: clientPassphrase)
        try FileManager.default.copyItem(atPath: clientKey + ".pub", toPath: dir + "/authorized_keys")
        try writeKnownHosts()
        try start()
    }

    deinit { stop() }

    static func keygen(_ path: String, passphrase: String) throws {
        try? FileManager.default.removeItem(atPath: path)
        try? FileManager.default.removeItem(atPath: path + ".pub")
        try run("/usr/bin/ssh-keygen", ["-q", "-t", "ed25519", "-N", passphrase, "-C", "caas-test", "-f", path])
    }

    /// `[127.0.0.1]:port key` for the current host key.
    public func writeKnownHosts() throws {
        let pub = try String(contentsOfFile: hostKey + ".pub", encoding: .utf8).split(separator: " ")
        try "[127.0.0.1]:\(port) \(pub[0]) \(pub[1])\n".write(toFile: knownHosts, atomically: true, encoding: .utf8)
    }

    /// The server gets a new host key (as after a reinstall, or a man in the middle); known_hosts keeps the old one.
    public func replaceHostKey() throws {
        stop()
        try Self.keygen(hostKey, passphrase: "")
        try start()
    }

    public func start() throws {
        let config = dir + "/sshd_config"
        try """
        Port \(port)
        ListenAddress 127.0.0.1
        HostKey \(hostKey)
        PidFile none
        AuthorizedKeysFile \(dir)/authorized_keys
        StrictModes no
        UsePAM no
        PasswordAuthentication no
        KbdInteractiveAuthentication no
        PubkeyAuthentication yes
        PermitRootLogin prohibit-password
        Subsystem sftp internal-sftp
        LogLevel ERROR
        MaxStartups 100
        MaxSessions 100

        """.write(toFile: config, atomically: true, encoding: .utf8)
        let logPath = dir + "/sshd.log"
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, logPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        let args: [String] = ["/usr/sbin/sshd", "-D", "-e", "-f", config]
        var argv: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) }
        argv.append(nil)
        defer { argv.forEach { free($0) } }
        var child: pid_t = 0
        let rc = posix_spawn(&child, "/usr/sbin/sshd", &actions, nil, argv, environ)
        guard rc == 0 else {
            throw NSError(
                domain: "SSHDServer", code: Int(rc),
                userInfo: [NSLocalizedDescriptionKey: "cannot start sshd: \(String(cString: strerror(rc)))"])
        }
        pid = child
        SSHDServer.registry.add(child)
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            if Self.canConnect(port) { return }
            var status: Int32 = 0
            if waitpid(child, &status, WNOHANG) == child {
                pid = nil
                break
            }
            usleep(20_000)
        }
        let text = (try? String(contentsOfFile: dir + "/sshd.log", encoding: .utf8)) ?? ""
        throw NSError(domain: "SSHDServer", code: 1, userInfo: [NSLocalizedDescriptionKey: "sshd did not start: \(text)"])
    }

    /// Kills the server and every connection it serves, at once (as a crash or a cut cable would).
    public func stop() {
        guard let pid else { return }
        for process in [pid] + Self.descendants(of: pid) { kill(process, SIGKILL) }
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        SSHDServer.registry.remove(pid)
        self.pid = nil
    }

    /// Servers still running when the test process exits are killed then, whatever kept their
    /// owners alive (Swift Testing does not promise when a suite instance is released).
    final class Registry: @unchecked Sendable {
        private let lock = NSLock()
        private var pids: Set<pid_t> = []
        private var hooked = false

        func add(_ pid: pid_t) {
            lock.lock()
            defer { lock.unlock() }
            pids.insert(pid)
            if !hooked {
                hooked = true
                atexit { SSHDServer.registry.killAll() }
            }
        }

        func remove(_ pid: pid_t) {
            lock.lock()
            pids.remove(pid)
            lock.unlock()
        }

        func killAll() {
            lock.lock()
            let all = pids
            lock.unlock()
            for pid in all {
                for process in [pid] + SSHDServer.descendants(of: pid) { kill(process, SIGKILL) }
            }
        }
    }

    static let registry = Registry()

    /// Every process below `pid`, from /proc (sshd forks a monitor and a session per connection).
    static func descendants(of pid: Int32) -> [Int32] {
        var parent: [Int32: Int32] = [:]
        for name in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let p = Int32(name), let stat = try? String(contentsOfFile: "/proc/\(name)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { continue }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if fields.count > 1, let pp = Int32(fields[1]) { parent[p] = pp }
        }
        var out: [Int32] = []
        var frontier = [pid]
        while let next = frontier.popLast() {
            let children = parent.filter { $0.value == next }.map(\.key)
            out += children
            frontier += children
        }
        return out
    }

    static func canConnect(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }

    public static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        return Int(UInt16(bigEndian: addr.sin_port))
    }

    @discardableResult
    public static func run(_ tool: String, _ args: [String], check: Bool = true) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: tool)
        p.arguments = args
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        if check && p.terminationStatus != 0 {
            throw NSError(
                domain: "SSHDServer", code: Int(p.terminationStatus), userInfo: [NSLocalizedDescriptionKey: "\(tool) failed: \(text)"])
        }
        return text
    }
}
