/// age v1 file encryption (https://age-encryption.org/v1): X25519 and scrypt recipients, STREAM payload.
///
/// The format is implemented natively over OpenSSL libcrypto by the secrets work; until then this module
/// only names the format so that the package's layering is in place.
public enum Age {
    /// The first line of every binary age file.
    public static let versionLine = "age-encryption.org/v1"
    /// The armor header of ASCII-armored age files.
    public static let armorBegin = "-----BEGIN AGE ENCRYPTED FILE-----"
}
