/// What `intops version` reports. `make dist` generates BuildInfo.release.swift with the commit and date of the
/// build and compiles with INTOPS_RELEASE_BUILD, which takes it in place of this one; the version lives only here.
#if !INTOPS_RELEASE_BUILD
enum BuildInfo {
    static let version = "0.2.0"
    static let commit: String? = nil
    static let date: String? = nil
}
#endif
