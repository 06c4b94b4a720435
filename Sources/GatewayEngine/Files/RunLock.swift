import Foundation
import GatewayFiles

/// One gateway run at a time per `var/` directory: an exclusive, non-blocking flock. The kernel
/// releases it when the process dies, so a crashed run never leaves a stale lock behind.
public final class RunLock {
    private let fd: Int32
    public let path: String

    public struct Held: Error, CustomStringConvertible {
        public let path: String
        public let holder: String
        public var description: String { "another caas-gateway run holds \(path) (\(holder)); this one exits without doing anything" }
    }

    public init(path: String) throws {
        self.path = path
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        fd = open(path, O_RDWR | O_CREAT, 0o644)
        guard fd >= 0 else { throw AtomicFile.posixError("cannot open lock file \(path)") }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let holder = (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            close(fd)
            throw Held(path: path, holder: holder.isEmpty ? "unknown process" : holder)
        }
        let note = "pid \(getpid()) since \(ISO8601DateFormatter().string(from: WallClock.now()))\n"
        ftruncate(fd, 0)
        _ = note.withCString { Foundation.pwrite(fd, $0, strlen($0), 0) }
    }

    deinit {
        flock(fd, LOCK_UN)
        close(fd)
    }
}
