import Foundation
import Synchronization

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The URLSession delegate of every client: redirects are answers, never followed (the OAuth callback's 302, an
/// S3 301 naming another region), and a request libcurl would send a second time on its own is cancelled instead.
///
/// libcurl, under URLSession on Linux, re-sends a request whose reused keep-alive connection died before an
/// answer, and asks for the body again; URLSession cannot rewind a `Data` body, so the copy would announce its
/// length, send nothing and hang until the timeout. Sending a write again is the client's decision (a create may
/// already be committed), so the task is cancelled and ends as a lost connection, which the client retries or
/// resolves.
public final class GuardedSessionDelegate: NSObject, URLSessionTaskDelegate, Sendable {
    /// Tasks libcurl wanted to send again, by identity (task identifiers are numbered per session).
    private let refused = Mutex<Set<ObjectIdentifier>>([])

    override public init() {}

    /// Whether libcurl wanted to send this task's request again; asked once, when the task has ended.
    public func takeRefusal(of task: URLSessionTask) -> Bool {
        refused.withLock { $0.remove(ObjectIdentifier(task)) != nil }
    }

    public func urlSession(
        _ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
        newRequest request: URLRequest, completionHandler: @escaping @Sendable (URLRequest?) -> Void
    ) { completionHandler(nil) }

    public func urlSession(
        _ session: URLSession, task: URLSessionTask,
        needNewBodyStream completionHandler: @escaping @Sendable (InputStream?) -> Void
    ) {
        _ = refused.withLock { $0.insert(ObjectIdentifier(task)) }
        // No stream: URLSession cannot take one for a Data body. This runs on the task's own queue, which cancel()
        // waits for, so the cancel is sent off it; no server answers the copy before its body, which never comes.
        completionHandler(nil)
        DispatchQueue.global().async { task.cancel() }
    }
}
