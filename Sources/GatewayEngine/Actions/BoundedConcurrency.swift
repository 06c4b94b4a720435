import Foundation

/// Partner requests block their thread for the whole round trip: a few run at once, no more
/// than the partner's configured concurrency.
enum BoundedConcurrency {
    /// `body(i)` for every i in 0..<count, at most `limit` at a time (GCD may run fewer on a small
    /// machine); the results in index order.
    static func map<T>(count: Int, limit: Int, _ body: @Sendable (Int) -> T) -> [T] {
        guard count > 0 else { return [] }
        let results = Slots<T>(count: count)
        DispatchQueue.concurrentPerform(iterations: min(max(1, limit), count)) { _ in
            while let i = results.claimNext() { results[i] = body(i) }
        }
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
