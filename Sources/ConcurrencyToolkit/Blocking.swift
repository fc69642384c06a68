import Dispatch

/// Runs a blocking call (a `flock` wait, a child process's pipe, `waitpid`) on a thread of its own, off the
/// cooperative pool, so that a slow disk or a slow child never starves the tasks that make requests.
public func offPool<Output: Sendable, Failure: Error>(
    _ body: @escaping @Sendable () throws(Failure) -> Output
) async throws(Failure) -> Output {
    let result: Result<Output, Failure> = await withCheckedContinuation { continuation in
        DispatchQueue.global().async {
            do throws(Failure) { continuation.resume(returning: .success(try body())) } catch {
                continuation.resume(returning: .failure(error))
            }
        }
    }
    return try result.get()
}
