/// The gateway's version, as `--version` prints it and the start log line records it. Bumped with
/// every release; `scripts/package` names the tarball after it and refuses a tree whose tag
/// disagrees.
public enum GatewayVersion {
    public static let number = "0.19.0"
}
