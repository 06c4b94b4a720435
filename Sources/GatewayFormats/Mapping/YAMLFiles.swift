import Foundation

/// Reading YAML files that people write: a file's text with a clear error, and every file of a
/// mappings folder with its own error, so one broken file does not hide the others.
public enum YAMLFiles {
    /// The file's UTF-8 text; `what` names it in the error ("the mapping file").
    public static func text(_ path: String, what: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw ConfigError(file: path, line: 0, message: "cannot read \(what) (is it UTF-8?)")
        }
        return text
    }

    /// Loads every `*.yaml` / `*.yml` of `dir` in name order. A missing folder is no file.
    public static func loadEach<T>(in dir: String, _ load: (String) throws -> T) -> (loaded: [T], errors: [ConfigError]) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else { return ([], []) }
        var loaded: [T] = []
        var errors: [ConfigError] = []
        for name in names.sorted() where name.hasSuffix(".yaml") || name.hasSuffix(".yml") {
            let path = (dir as NSString).appendingPathComponent(name)
            do {
                loaded.append(try load(path))
            } catch let e as ConfigError {
                errors.append(e)
            } catch {
                errors.append(ConfigError(file: path, line: 0, message: "\(error)"))
            }
        }
        return (loaded, errors)
    }
}
