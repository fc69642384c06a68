import CryptoPrimitives

/// The STREAM payload: 64 KiB chunks of ChaCha20-Poly1305 under a key derived from the file key and a nonce.
enum PayloadStream {
    static let chunkSize = 65_536
    static let sealedChunkSize = chunkSize + 16

    static func nonce(counter: UInt64, final: Bool) -> [UInt8] {
        var nonce = [UInt8](repeating: 0, count: 12)
        for index in 0..<8 { nonce[10 - index] = UInt8(truncatingIfNeeded: counter >> UInt64(8 * index)) }
        nonce[11] = final ? 1 : 0
        return nonce
    }

    static func key(fileKey: [UInt8], nonce: [UInt8]) throws(CryptoFailure) -> [UInt8] {
        try KDF.hkdfSHA256(key: fileKey, salt: nonce, info: Array("payload".utf8))
    }

    static func seal(
        _ plaintext: [UInt8], fileKey: [UInt8], nonce streamNonce: [UInt8]
    ) throws(CryptoFailure) -> [UInt8] {
        var key = try key(fileKey: fileKey, nonce: streamNonce)
        defer { secureZero(&key) }
        var out = streamNonce
        out.reserveCapacity(16 + plaintext.count + 16 * (plaintext.count / chunkSize + 1))
        var offset = 0
        var counter: UInt64 = 0
        repeat {
            let stop = min(offset + chunkSize, plaintext.count)
            let final = stop == plaintext.count
            out += try ChaChaPoly.seal(
                Array(plaintext[offset..<stop]), key: key, nonce: nonce(counter: counter, final: final))
            offset = stop
            counter += 1
        } while offset < plaintext.count
        return out
    }

    static func open(_ payload: ArraySlice<UInt8>, fileKey: [UInt8]) throws(AgeError) -> [UInt8] {
        guard payload.count >= 16 else { throw .header("the payload nonce is missing") }
        let streamNonce = Array(payload.prefix(16))
        var key = try withCrypto { () throws(CryptoFailure) in try Self.key(fileKey: fileKey, nonce: streamNonce) }
        defer { secureZero(&key) }
        var out: [UInt8] = []
        var position = payload.startIndex + 16
        var counter: UInt64 = 0
        while true {
            let remaining = payload.endIndex - position
            guard remaining > 0 else { throw .payload("the stream ends without a final chunk") }
            let length = min(remaining, sealedChunkSize)
            let chunk = payload[position..<(position + length)]
            position += length
            if length < sealedChunkSize {
                guard length >= 16 else { throw .payload("a chunk is shorter than its tag") }
                guard !(counter > 0 && length == 16) else { throw .payload("the final chunk is empty") }
                guard let plain = ChaChaPoly.open(chunk, key: key, nonce: nonce(counter: counter, final: true)) else {
                    throw .payload("chunk \(counter) does not authenticate")
                }
                out += plain
                return out
            }
            if let plain = ChaChaPoly.open(chunk, key: key, nonce: nonce(counter: counter, final: false)) {
                out += plain
            } else if let plain = ChaChaPoly.open(chunk, key: key, nonce: nonce(counter: counter, final: true)) {
                guard position == payload.endIndex else { throw .payload("data follows the final chunk") }
                out += plain
                return out
            } else {
                throw .payload("chunk \(counter) does not authenticate")
            }
            counter += 1
        }
    }
}
