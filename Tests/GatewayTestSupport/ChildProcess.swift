import Foundation

/// A server a test starts (sshd, PostgreSQL, a partner simulator, a runner it will kill), as
/// opposed to a short command it runs to its end (`Command`). Started through `Spawn`: its
/// output goes to a log file, never to a pipe somebody reads to the end, its input is /dev/null,
/// and it holds no other descriptor of this process. Stopped with every process below it, and
/// killed when the test process exits at the latest.
public final class ChildProcess: @unchecked Sendable {
    public let pid: pid_t
    private var running = true

    /// `arguments[0]` is looked up in PATH. Output and error go to `log`; input is /dev/null.
    /// `directory`: where it starts (PostgreSQL as the `postgres` user cannot start in a folder
    /// only root may enter, such as a clone under /root).
    public init(_ arguments: [String], log: String, directory: String? = nil, environment: [String: String]? = nil) throws {
        let output = try Spawn.open(log, O_WRONLY | O_CREAT | O_APPEND)
        defer { close(output) }
        let input = try Spawn.open("/dev/null", O_RDONLY)
        defer { close(input) }
        pid = try Spawn.start(arguments, directory: directory, environment: environment, stdin: input, stdout: output, stderr: output)
        Self.registry.add(pid)
    }

    deinit { stop() }

    /// Whether it is still running (reaps it if it exited).
    public var isRunning: Bool {
        guard running else { return false }
        if Spawn.reapIfEnded(pid) != nil {
            running = false
            Self.registry.remove(pid)
        }
        return running
    }

    /// Kills it and everything below it at once, as a crash or a cut cable would.
    public func stop() {
        guard running else { return }
        _ = Spawn.killTree(pid)
        running = false
        Self.registry.remove(pid)
    }

    /// Waits for it to end; its exit code (128 + the signal), or nil (and killed) after `timeout`.
    public func waitForExit(timeout: TimeInterval) -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let status = Spawn.reapIfEnded(pid) {
                running = false
                Self.registry.remove(pid)
                return Spawn.exitCode(status).code
            }
            usleep(20_000)
        }
        stop()
        return nil
    }

    /// Waits until something accepts connections on 127.0.0.1:`port`; false if it died or timed out.
    public func waitForPort(_ port: Int, timeout: TimeInterval = 10) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if Self.canConnect(port) { return true }
            if !isRunning { return false }
            usleep(20_000)
        }
        return false
    }

    public static func canConnect(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
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
        let (fd, port) = try loopbackSocket()
        close(fd)
        return port
    }

    /// A TCP socket bound to 127.0.0.1 on a port the kernel chose, and that port. The caller
    /// closes it.
    public static func loopbackSocket() throws -> (fd: Int32, port: Int) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else {
            throw NSError(domain: "ChildProcess", code: Int(errno), userInfo: [NSLocalizedDescriptionKey: "socket() failed"])
        }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        return (fd, Int(UInt16(bigEndian: addr.sin_port)))
    }

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
                atexit { ChildProcess.registry.killAll() }
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
                for process in [pid] + Spawn.descendants(of: pid) { kill(process, SIGKILL) }
            }
        }
    }

    static let registry = Registry()
}

/// A throwaway certificate authority and a server certificate for 127.0.0.1 and localhost, made
/// with the openssl command line, for tests that must verify TLS for real.
public struct TestCA {
    public let dir: String
    public var caCertificate: String { dir + "/ca.pem" }
    public var serverCertificate: String { dir + "/server.pem" }
    public var serverKey: String { dir + "/server.key" }

    public init() throws {
        dir = Fixtures.tempDir("ca")
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        try SSHDServer.run(
            "/usr/bin/openssl",
            ["req", "-x509"] + ec + ["-keyout", dir + "/ca.key", "-out", caCertificate, "-days", "2", "-subj", "/CN=caas-test-ca"])
        try SSHDServer.run(
            "/usr/bin/openssl", ["req"] + ec + ["-keyout", serverKey, "-out", dir + "/server.csr", "-subj", "/CN=localhost"])
        try "subjectAltName=IP:127.0.0.1,DNS:localhost\n".write(toFile: dir + "/ext.cnf", atomically: true, encoding: .utf8)
        try SSHDServer.run(
            "/usr/bin/openssl",
            [
                "x509", "-req", "-in", dir + "/server.csr", "-CA", caCertificate, "-CAkey", dir + "/ca.key", "-CAcreateserial",
                "-out", serverCertificate, "-days", "2", "-extfile", dir + "/ext.cnf",
            ])
    }

    /// A client certificate signed by this CA (for APIs that authenticate the caller by TLS).
    public func clientCertificate(name: String = "caas-gateway") throws -> (certificate: String, key: String) {
        let cert = dir + "/\(name).pem", key = dir + "/\(name).key"
        try SSHDServer.run(
            "/usr/bin/openssl",
            [
                "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", dir + "/\(name).csr",
                "-subj", "/CN=\(name)",
            ])
        try "extendedKeyUsage=clientAuth\n".write(toFile: dir + "/client.cnf", atomically: true, encoding: .utf8)
        try SSHDServer.run(
            "/usr/bin/openssl",
            [
                "x509", "-req", "-in", dir + "/\(name).csr", "-CA", caCertificate, "-CAkey", dir + "/ca.key", "-CAcreateserial", "-out",
                cert,
                "-days", "2", "-extfile", dir + "/client.cnf",
            ])
        return (cert, key)
    }
}

/// The factory simulator of Tests/Simulators/factory.py, over TLS with a test CA.
public final class FactorySimulator: @unchecked Sendable {
    public let port: Int
    public let token = "test-factory-token"
    public let ca: TestCA
    let process: ChildProcess

    /// Starts the simulator with a test CA of its own, for clients to trust.
    /// `webhook`: where its sender pushes status events (`POST /_sim/push`), and the whsec_ secret.
    public init(webhook: (url: String, secret: String)? = nil) throws {
        ca = try TestCA()
        port = try ChildProcess.freePort()
        let script = Fixtures.repoRoot.appendingPathComponent("Tests/Simulators/factory.py").path
        let book = Fixtures.story("factory/order-book.csv")
        process = try ChildProcess(
            [
                "python3", script, "--port", String(port), "--token", token, "--order-book", book, "--cert", ca.serverCertificate, "--key",
                ca.serverKey,
            ] + (webhook.map { ["--webhook-url", $0.url, "--webhook-secret", $0.secret] } ?? []),
            log: ca.dir + "/factory.log")
        guard process.waitForPort(port) else {
            let log = (try? String(contentsOfFile: ca.dir + "/factory.log", encoding: .utf8)) ?? ""
            throw NSError(domain: "FactorySimulator", code: 1, userInfo: [NSLocalizedDescriptionKey: "the simulator did not start: \(log)"])
        }
    }

    public var baseURL: String { "https://127.0.0.1:\(port)" }

    public func stop() { process.stop() }
}
