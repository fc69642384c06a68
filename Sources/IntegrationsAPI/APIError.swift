import Foundation
import HTTPSupport
import TextEscaping

/// A request that never got an HTTP answer. Transports throw it; the client decides whether to try again.
public struct TransportFailure: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// No connection could be made: nothing reached the server.
        case cannotConnect
        /// The connection failed after the request may have been sent: the server may have acted on it.
        case connectionLost
        case timedOut
        case cancelled
        /// The URL or the request itself is unusable; trying again cannot help.
        case invalidRequest
    }

    public var kind: Kind
    public var detail: String

    public init(_ kind: Kind, _ detail: String) {
        self.kind = kind
        self.detail = detail
    }

    public var description: String { detail }

    var isRetryable: Bool { kind != .cancelled && kind != .invalidRequest }
}

/// A failed API call, with the context a person needs to act on it: method, path, organization, status and the
/// API's own explanation. It never carries a request body, a response body or a credential.
public struct APIError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Reason: Sendable, Equatable {
        /// The API answered with an error status; `problem` is the problem-details summary when there was one.
        case status(Int, problem: String?)
        case transport(TransportFailure)
        /// A success status with a body that does not decode as the documented response.
        case undecodable(String)
        /// No credential is configured for the organization.
        case noCredential
    }

    public var method: String
    public var path: String
    public var organizationId: String?
    public var reason: Reason
    /// How many times the request was sent.
    public var attempts: Int

    public init(method: String, path: String, organizationId: String?, reason: Reason, attempts: Int = 1) {
        self.method = method
        self.path = path
        self.organizationId = organizationId
        self.reason = reason
        self.attempts = attempts
    }

    public var status: Int? {
        if case .status(let status, _) = reason { return status }
        return nil
    }

    public var description: String {
        var text = "\(method) \(path)"
        if let organizationId { text += " (organization \(organizationId))" }
        switch reason {
        case .status(let status, let problem):
            text += " failed with \(status)"
            let phrase = HTTPStatus.reasonPhrase(status)
            if !phrase.isEmpty { text += " \(phrase)" }
            if let problem, !problem.isEmpty { text += ": \(Self.clip(problem))" }
            switch status {
            case 401: text += "; check the organization's API token"
            case 403: text += "; the token lacks the Admin role the Integrations API requires"
            default: break
            }
        case .transport(let failure): text += " failed: \(failure.detail)"
        case .undecodable(let detail): text += " returned a response intops cannot read: \(detail)"
        case .noCredential: text += " has no API token configured"
        }
        if attempts > 1 { text += " (after \(attempts) attempts)" }
        return text
    }

    /// The API's explanation is shown, but bounded (a server that echoes input must not flood a log) and on one
    /// line with its control characters made visible (it must not forge lines or drive the terminal).
    static func clip(_ text: String) -> String {
        let single = TerminalText.visible(text.replacingOccurrences(of: "\n", with: " "))
        return single.count > 300 ? String(single.prefix(300)) + "…" : single
    }
}

extension APIError.Reason {
    /// The reason with the server's words (problem details, transport detail) cleaned of the run's secrets.
    func redacted(by redactor: Redactor) -> Self {
        switch self {
        case .status(let status, let problem): return .status(status, problem: problem.map(redactor.redact))
        case .transport(var failure):
            failure.detail = redactor.redact(failure.detail)
            return .transport(failure)
        case .undecodable(let detail): return .undecodable(redactor.redact(detail))
        case .noCredential: return .noCredential
        }
    }
}
