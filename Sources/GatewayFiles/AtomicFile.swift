import Foundation

/// Durable file operations: what the gateway writes appears whole or not at all.
public enum AtomicFile {
    /// Writes to a temporary name in the same directory, fsyncs, renames over the target and
    /// fsyncs the directory. `mode` 0o600 for files that hold tokens.
    /// `durable: false` leaves the fsyncs to the caller, who makes a whole batch durable at once
    /// with `syncFileSystem` (one flush instead of two per file).
    public static func write(_ data: Data, to path: String, mode: mode_t = 0o644, durable: Bool = true) throws {
        try stream(to: path, mode: mode, durable: durable) { write in try write(data) }
    }

    /// Makes everything written to the file system that holds `dir` durable: files and renames.
    public static func syncFileSystem(holding dir: String) throws {
        let fd = open(dir, O_RDONLY | O_DIRECTORY)
        guard fd >= 0 else { throw posixError("cannot open \(dir)") }
        defer { close(fd) }
        guard syncFS(fd) == 0 else { throw posixError("cannot sync the file system of \(dir)") }
    }

    /// Linux's syncfs(2), which Glibc declares only under _GNU_SOURCE: looked up once; where it is
    /// missing, sync(2) does the same for every file system.
    private static let syncFS: @convention(c) (Int32) -> Int32 = {
        if let handle = dlopen(nil, RTLD_NOW), let symbol = dlsym(handle, "syncfs") {
            return unsafeBitCast(symbol, to: (@convention(c) (Int32) -> Int32).self)
        }
        return { _ in
            sync()
            return 0
        }
    }()

    /// Like `write`, for content too large to hold: `produce` hands chunks to the writer it is
    /// given, which writes them to the temporary file as they come; then fsync, rename, fsync.
    public static func stream(
        to path: String, mode: mode_t = 0o644, durable: Bool = true, _ produce: ((Data) throws -> Void) throws -> Void
    ) throws {
        let dir = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let tmp = (dir as NSString).appendingPathComponent(".\((path as NSString).lastPathComponent).tmp-\(getpid())")
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, mode)
        guard fd >= 0 else { throw posixError("cannot create \(tmp)") }
        // Exactly `mode`, whatever the umask: a metrics file node_exporter must read, a token
        // file nobody else may.
        fchmod(fd, mode)
        var ok = false
        defer {
            if !ok { unlink(tmp) }
        }
        do {
            try produce { data in try writeAll(fd, data, name: tmp) }
        } catch {
            close(fd)
            throw error
        }
        guard !durable || fsync(fd) == 0 else {
            close(fd)
            throw posixError("cannot fsync \(tmp)")
        }
        close(fd)
        guard rename(tmp, path) == 0 else { throw posixError("cannot rename \(tmp) to \(path)") }
        ok = true
        if durable { syncDirectory(dir) }
    }

    public static func writeAll(_ fd: Int32, _ data: Data, name: String) throws {
        try data.withUnsafeBytes { raw in
            var off = 0
            while off < raw.count {
                let n = Foundation.write(fd, raw.baseAddress! + off, raw.count - off)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw posixError("cannot write \(name)")
                }
                off += n
            }
        }
    }

    /// Removes the temporary files `write` leaves when its process dies before the rename
    /// (`.<name>.tmp-<pid>`), under `root`. Only for a caller that knows no writer is alive there.
    /// Returns how many it removed.
    @discardableResult
    public static func removeTemporaryFiles(under root: String) -> Int {
        guard let e = FileManager.default.enumerator(atPath: root) else { return 0 }
        var removed = 0
        while let rel = e.nextObject() as? String {
            let name = (rel as NSString).lastPathComponent
            guard name.hasPrefix("."), name.range(of: ".tmp-") != nil else { continue }
            if unlink((root as NSString).appendingPathComponent(rel)) == 0 { removed += 1 }
        }
        return removed
    }

    public static func write(_ text: String, to path: String, mode: mode_t = 0o644) throws {
        try write(Data(text.utf8), to: path, mode: mode)
    }

    /// The longest name the gateway gives a file it keeps (archive, quarantine), in bytes: a
    /// partner's name may take all of NAME_MAX (255), and the suffixes added to it (`.<hash>.<n>`,
    /// `.reason.txt`) must still fit.
    public static let maxKeptNameBytes = 200

    /// `name`, or when longer than `maxKeptNameBytes` its start, `~`, `tag` (the content's hash)
    /// and its extension. The full name stays in the ledger and the reason file.
    public static func boundedName(_ name: String, tag: String) -> String {
        guard name.utf8.count > maxKeptNameBytes else { return name }
        let ext = (name as NSString).pathExtension
        let tail = ext.isEmpty || ext.utf8.count > 16 ? "" : "." + ext
        let room = maxKeptNameBytes - tail.utf8.count - 1 - tag.utf8.count
        var head = ""
        var used = 0
        for scalar in name.unicodeScalars {
            let n = String(scalar).utf8.count
            guard used + n <= room else { break }
            head.unicodeScalars.append(scalar)
            used += n
        }
        return head + "~" + tag + tail
    }

    /// Moves a file into `dir` under its name (bounded, see `boundedName`), or `name.<suffix>`
    /// when that name is taken by other content. Never overwrites. Returns the final path.
    @discardableResult
    public static func move(_ path: String, intoDirectory dir: String, suffixIfTaken suffix: String) throws -> String {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let name = boundedName((path as NSString).lastPathComponent, tag: suffix)
        var target = (dir as NSString).appendingPathComponent(name)
        if FileManager.default.fileExists(atPath: target) {
            target = (dir as NSString).appendingPathComponent("\(name).\(suffix)")
            var n = 2
            while FileManager.default.fileExists(atPath: target) {
                target = (dir as NSString).appendingPathComponent("\(name).\(suffix).\(n)")
                n += 1
            }
        }
        guard rename(path, target) == 0 else {
            // Across file systems: copy durably, then remove the original.
            if errno == EXDEV, let data = FileManager.default.contents(atPath: path) {
                try write(data, to: target)
                unlink(path)
                return target
            }
            throw posixError("cannot move \(path) to \(target)")
        }
        syncDirectory(dir)
        syncDirectory((path as NSString).deletingLastPathComponent)
        return target
    }

    public static func syncDirectory(_ dir: String) {
        let fd = open(dir, O_RDONLY)
        if fd >= 0 {
            fsync(fd)
            close(fd)
        }
    }

    public static func posixError(_ what: String) -> NSError {
        let code = errno
        return NSError(
            domain: NSPOSIXErrorDomain, code: Int(code),
            userInfo: [NSLocalizedDescriptionKey: "\(what): \(String(cString: strerror(code)))"])
    }
}
