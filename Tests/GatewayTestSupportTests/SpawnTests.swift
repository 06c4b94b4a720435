import Foundation
import GatewayTestSupport
import Testing

/// The tests' own process hygiene (issue 31): a server started while another test reads a short
/// command's output must not inherit that pipe, and no wait on a child lasts for ever.
@Suite("Children get only the descriptors meant for them, and every wait ends")
struct SpawnTests {
    /// The descriptors `pid` holds, from /proc.
    static func descriptors(of pid: pid_t) throws -> [Int] {
        try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").compactMap(Int.init).sorted()
    }

    /// The pipes `pid`, or a process below it, shares with this test process. A server opens sockets, files and pipes of
    /// its own; one that this process also holds it can only have inherited.
    static func sharedPipes(of pid: pid_t) throws -> Set<String> {
        func pipes(_ who: String) throws -> Set<String> {
            Set(
                try FileManager.default.contentsOfDirectory(atPath: "/proc/\(who)/fd").compactMap { fd in
                    (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(who)/fd/\(fd)")).flatMap {
                        $0.hasPrefix("pipe:") ? $0 : nil
                    }
                })
        }
        let ours = try pipes("self")
        return try ([pid] + Spawn.descendants(of: pid)).reduce(into: Set<String>()) { shared, p in
            shared.formUnion((try? pipes(String(p))).map { $0.intersection(ours) } ?? [])
        }
    }

    @Test func aServerStartedWhileACommandIsReadHoldsNoneOfItsPipe() throws {
        let dir = Fixtures.tempDir()
        // What Foundation's Pipe makes: a plain pipe(2), not close-on-exec, open in this process.
        var plain: [Int32] = [-1, -1]
        #expect(pipe(&plain) == 0)
        defer { plain.forEach { close($0) } }

        let started = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var server: ChildProcess?
        nonisolated(unsafe) var serverError: (any Error)?
        DispatchQueue.global().async {
            usleep(100_000)  // while the command below is being read
            do { server = try ChildProcess(["sleep", "60"], log: dir + "/server.log") } catch { serverError = error }
            started.signal()
        }
        let r = try Command.run("/bin/sh", ["-c", "echo start; sleep 0.5; echo end"], timeout: 30)
        #expect(started.wait(timeout: .now() + 30) == .success)
        #expect(serverError == nil)
        let long = try #require(server)
        defer { long.stop() }

        #expect(r.status == 0)
        #expect(r.output == "start\nend\n")
        // Its standard three, and not one descriptor more: not the command's pipe, not the plain one.
        #expect(try Self.descriptors(of: long.pid) == [0, 1, 2])
        #expect(long.isRunning)
    }

    @Test func aCommandIsDoneWhenItExitsThoughSomethingItStartedHoldsItsOutput() throws {
        // The shell leaves a sleeper behind with the pipe as its standard output.
        let r = try Command.run("/bin/sh", ["-c", "sleep 60 & echo $!; echo done"], timeout: 30)
        let sleeper = try #require(r.output.split(separator: "\n").first.flatMap { pid_t($0) })
        defer { kill(sleeper, SIGKILL) }
        #expect(r.status == 0)
        #expect(r.output.hasSuffix("done\n"))
        #expect(kill(sleeper, 0) == 0, "the sleeper still runs, and the read ended all the same")
    }

    @Test func aCommandPastItsDeadlineIsKilledAndNamedWithWhatItPrinted() throws {
        let marker = "partial-\(UInt32.random(in: 0...UInt32.max))"
        var caught: CommandTimedOut?
        do {
            _ = try Command.run("/bin/sh", ["-c", "echo \(marker); exec sleep 60"], timeout: 1)
        } catch let e as CommandTimedOut { caught = e }
        let timedOut = try #require(caught, "a command that outlives its deadline must throw")
        #expect(timedOut.description.contains("/bin/sh -c echo \(marker)"))
        #expect(timedOut.description.contains("it printed: \(marker)"))
        // Killed: no sleeper with the marker's shell is left.
        let left = try Command.run("/usr/bin/pgrep", ["-f", "echo \(marker)"]).output
        #expect(left.isEmpty, "still running: \(left)")
    }

    @Test func aServerThatOutlivesItsWaitIsKilled() throws {
        let dir = Fixtures.tempDir()
        let p = try ChildProcess(["sleep", "60"], log: dir + "/log")
        #expect(p.waitForExit(timeout: 0.2) == nil)
        #expect(!p.isRunning)
        #expect(kill(p.pid, 0) != 0)
    }

    @Test func outputLargerThanAPipeIsReadFromBothStreams() throws {
        // 1 MiB on each stream: a reader that drained one to its end before the other would deadlock.
        let r = try Command.capture(
            ["/bin/sh", "-c", "head -c 1048576 /dev/zero >&2; head -c 1048576 /dev/zero"], timeout: 60)
        #expect(r.status == 0)
        #expect(r.outputData.count == 1 << 20)
        #expect(r.errorData.count == 1 << 20)
    }

    @Test func inputIsGivenAndABinaryOutputKeptAsBytes() throws {
        let data = Data((0..<70_000).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        let zipped = try Command.capture(["/bin/gzip", "-c", "-n"], input: data, timeout: 60)
        let back = try Command.capture(["/bin/gzip", "-d", "-c"], input: zipped.outputData, timeout: 60)
        #expect(back.outputData == data)
    }

    /// The same while the whole-run fixtures start around it: an sshd (ssh-keygen, then the
    /// server) and the shared PostgreSQL (initdb, the server, createdb, psql), each in its own
    /// thread next to short commands being read. Every case runs in parallel with the others.
    @Test(arguments: 0..<8) func readsEndWhileServersStartAroundThem(round: Int) throws {
        let failures = Failures()
        DispatchQueue.concurrentPerform(iterations: 3) { part in
            do {
                switch part {
                case 0:
                    let sshd = try SSHDServer()
                    let pipes = try Self.sharedPipes(of: sshd.processID)
                    failures.check(pipes.isEmpty, "sshd holds pipes: \(pipes)")
                    sshd.stop()
                case 1:
                    let pg = try TestPostgres.shared()
                    let db = try #require(URL(string: try pg.newDatabase("hygiene\(round)"))).lastPathComponent
                    failures.check(try pg.psql(db, "SELECT 40 + \(round)") == String(40 + round), "psql answered wrong")
                    let pipes = try Self.sharedPipes(of: pg.serverProcessID)
                    failures.check(pipes.isEmpty, "postgres holds pipes: \(pipes)")
                default:
                    for i in 0..<10 {
                        let r = try Command.run("/bin/sh", ["-c", "echo \(round)-\(i); sleep 0.05; echo ok"], timeout: 60)
                        failures.check(r.output == "\(round)-\(i)\nok\n", "short command printed \(r.output)")
                    }
                }
            } catch { failures.check(false, "part \(part): \(error)") }
        }
        #expect(failures.all.isEmpty, "\(failures.all)")
    }
}

final class Failures: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var all: [String] = []
    func check(_ ok: Bool, _ message: @autoclosure () -> String) {
        guard !ok else { return }
        lock.lock()
        all.append(message())
        lock.unlock()
    }
}
