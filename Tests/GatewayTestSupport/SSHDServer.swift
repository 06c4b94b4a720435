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
    private var process: ChildProcess?
    /// The server's process id while it runs (-1 when stopped).
    public var processID: pid_t { process?.pid ?? -1 }

    public init(clientPassphrase: String = "") throws {
        dir = Fixtures.tempDir("sshd")
        port = try ChildProcess.freePort()
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
        let p = try ChildProcess(["/usr/sbin/sshd", "-D", "-e", "-f", config], log: dir + "/sshd.log")
        process = p
        if p.waitForPort(port) { return }
        let text = (try? String(contentsOfFile: dir + "/sshd.log", encoding: .utf8)) ?? ""
        throw NSError(domain: "SSHDServer", code: 1, userInfo: [NSLocalizedDescriptionKey: "sshd did not start: \(text)"])
    }

    /// Kills the server and every connection it serves, at once (as a crash or a cut cable would).
    public func stop() {
        process?.stop()
        process = nil
    }

    public static func freePort() throws -> Int { try ChildProcess.freePort() }

    @discardableResult
    public static func run(_ tool: String, _ args: [String], check: Bool = true) throws -> String {
        let (status, text) = try Command.run(tool, args)
        if check && status != 0 {
            throw NSError(domain: "SSHDServer", code: Int(status), userInfo: [NSLocalizedDescriptionKey: "\(tool) failed: \(text)"])
        }
        return text
    }
}
