import Foundation

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

extension URLSessionConfiguration {
    /// What every client of this project uses: no cookies, no cache, one timeout for the whole request.
    ///
    /// - Parameter maximumConnections: connections kept per host; nil leaves URLSession's default.
    public static func uncached(timeout: Duration, maximumConnections: Int? = nil) -> URLSessionConfiguration {
        let configuration = URLSessionConfiguration.ephemeral
        let seconds = Double(timeout.components.seconds) + Double(timeout.components.attoseconds) / 1e18
        configuration.timeoutIntervalForRequest = seconds
        configuration.timeoutIntervalForResource = seconds
        if let maximumConnections { configuration.httpMaximumConnectionsPerHost = maximumConnections }
        configuration.httpCookieStorage = nil
        configuration.urlCache = nil
        configuration.requestCachePolicy = .reloadIgnoringLocalCacheData
        return configuration
    }
}
