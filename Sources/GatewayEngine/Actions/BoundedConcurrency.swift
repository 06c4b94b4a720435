import Foundation

/// Partner requests block their thread for the whole round trip: up to the partner's configured
/// concurrency run at once, each on a thread of its own. (`DispatchQueue.concurrentPerform` would
/// cap them at the core count: 2 requests in flight on a 2-core machine, whatever was configured.)
enum BoundedConcurrency {
    /// `body(i)` for every i in 0..<count, at most `limit` at a time; the results in index order.
    static func map<T>(count: Int, limit: Int, _ body: @escaping @Sendable (Int) -> T) -> [T] {
        guard count > 0 else { return [] }
        let results = Slots<T>(count: count)
        let workers = min(max(1, limit), count)
        if workers == 1 {
            while let i = results.claimNext() { results[i] = body(i) }
            return (0..<count).map { results[$0]! }
        }
        let finished = DispatchGroup()
        for _ in 0..<workers {
            finished.enter()
            let thread = Thread {
                while let i = results.claimNext() { results[i] = body(i) }
                finished.leave()
            }
            // libcurl and TLS need more than the 512 KiB a secondary thread gets by default on Linux.
            thread.stackSize = 4 << 20
            thread.start()
        }
        finished.wait()
        return (0..<count).map { results[$0]! }
    }
}

/// Results written by concurrent workers, one slot each, and the next index to work on.
final class Slots<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [T?]
    private var next = 0

    init(count: Int) { values = Array(repeating: nil, count: count) }

    subscript(i: Int) -> T? {
        get {
            lock.lock()
            defer { lock.unlock() }
            return values[i]
        }
        set {
            lock.lock()
            values[i] = newValue
            lock.unlock()
        }
    }

    /// Hands out 0, 1, 2, ... once each, until every slot has been handed out.
    func claimNext() -> Int? {
        lock.lock()
        defer { lock.unlock() }
        guard next < values.count else { return nil }
        next += 1
        return next - 1
    }
}
