import Foundation

/// A real PostgreSQL server for the tests, never a mock: Debian's server binaries, a cluster made
/// with initdb in a temporary folder, started on a free loopback port, with password (SCRAM)
/// authentication over TCP as a production server has. One per test process, started on first
/// use and killed with the process. Each test gets an empty database of its own (`newDatabase`).
///
/// initdb and postgres refuse to run as root: as root they run as the `postgres` user that
/// Debian's package creates (scripts/install-deps --tests installs it).
public final class TestPostgres: @unchecked Sendable {
    public let port: Int
    public let user = "caas"
    /// The password the cluster's user has; tests pass it as a store would get it, from the environment.
    public let password: String
    let dir: String
    let bin: String
    let server: ChildProcess
    /// The server's process id (`runuser`'s, when it runs as the `postgres` user).
    public var serverProcessID: pid_t { server.pid }
    private let lock = NSLock()
    private var databases = 0

    /// The shared server, or the reason there is none (no PostgreSQL installed).
    public static func shared() throws -> TestPostgres {
        try sharedResult.get()
    }

    private static let sharedResult: Result<TestPostgres, any Error> = Result { try TestPostgres() }

    private init() throws {
        guard let bin = Self.serverBinaries() else {
            throw TestPostgresError(
                "no PostgreSQL server under /usr/lib/postgresql: scripts/install-deps --tests installs Debian's postgresql")
        }
        self.bin = bin
        dir = Fixtures.tempDir("postgres")
        password = "pw-\(UInt64.random(in: 0...UInt64.max))"
        try password.write(toFile: dir + "/pwfile", atomically: true, encoding: .utf8)
        let asRoot = getuid() == 0
        if asRoot { try Self.run("/bin/chown", ["-R", "postgres:postgres", dir]) }
        let prefix = asRoot ? ["/usr/sbin/runuser", "-u", "postgres", "--"] : []
        try Self.run(
            prefix.first ?? bin + "/initdb",
            Array(prefix.dropFirst()) + (asRoot ? [bin + "/initdb"] : []) + [
                "-D", dir + "/data", "-U", user, "--pwfile", dir + "/pwfile", "--auth-local=trust", "--auth-host=scram-sha-256",
                "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync",
            ], in: dir)
        port = try ChildProcess.freePort()
        // fsync off: a test cluster dies with its test process; the store's own durability is
        // PostgreSQL's, which these tests do not set out to prove.
        server = try ChildProcess(
            prefix + [
                bin + "/postgres", "-D", dir + "/data", "-p", String(port), "-k", dir, "-c", "listen_addresses=127.0.0.1",
                "-c", "fsync=off", "-c", "max_connections=200", "-c", "shared_buffers=32MB",
            ], log: dir + "/server.log", directory: dir)
        guard server.waitForPort(port, timeout: 30) else {
            let log = (try? String(contentsOfFile: dir + "/server.log", encoding: .utf8)) ?? ""
            throw TestPostgresError("PostgreSQL did not start on port \(port): \(log.suffix(600))")
        }
        // Listening is not ready: until recovery ends it answers "the database system is starting
        // up" (seen on a loaded machine). pg_isready says when it takes connections.
        let ready = Date().addingTimeInterval(60)
        while try Command.run(bin + "/pg_isready", ["-q", "-h", dir, "-p", String(port)], timeout: 30).status != 0 {
            guard Date() < ready, server.isRunning else {
                let log = (try? String(contentsOfFile: dir + "/server.log", encoding: .utf8)) ?? ""
                throw TestPostgresError("PostgreSQL on port \(port) never became ready: \(log.suffix(600))")
            }
            usleep(50_000)
        }
    }

    /// The connection URL of a new, empty database; its password is `password`.
    public func newDatabase(_ name: String = #function) throws -> String {
        // One at a time: CREATE DATABASE copies template1 and fails while another copy reads it.
        lock.lock()
        defer { lock.unlock() }
        databases += 1
        let db = "t\(databases)_" + name.lowercased().filter { $0.isLetter || $0.isNumber }.prefix(40)
        try Self.run(bin + "/createdb", ["-h", dir, "-p", String(port), "-U", user, db])
        return url(database: db)
    }

    public func url(database: String) -> String {
        "postgresql://\(user)@127.0.0.1:\(port)/\(database)?sslmode=disable"
    }

    /// Runs SQL as the cluster's owner over the local socket (a test's look behind the store).
    public func psql(_ database: String, _ sql: String) throws -> String {
        let r = try Command.run(
            bin + "/psql", ["-h", dir, "-p", String(port), "-U", user, "-d", database, "-At", "-v", "ON_ERROR_STOP=1", "-c", sql])
        guard r.status == 0 else { throw TestPostgresError("psql failed: \(r.output)") }
        return r.output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func serverBinaries() -> String? {
        let root = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).compactMap(Int.init).sorted()
        return versions.last.map { "\(root)/\($0)/bin" }.flatMap {
            FileManager.default.isExecutableFile(atPath: $0 + "/postgres") ? $0 : nil
        }
    }

    /// `directory`: where it starts; initdb as the `postgres` user stops at once in a folder it
    /// cannot enter ("could not identify current directory"), such as a clone under /root.
    static func run(_ executable: String, _ arguments: [String], in directory: String? = nil) throws {
        let r = try Command.run(executable, arguments, in: directory)
        guard r.status == 0 else {
            throw TestPostgresError("\((executable as NSString).lastPathComponent) failed (\(r.status)): \(r.output.suffix(800))")
        }
    }
}

public struct TestPostgresError: Error, CustomStringConvertible {
    public let description: String
    init(_ d: String) { description = d }
}
