/// The one fan-out of the project: `body` over every element, at most `limit` at a time, results in the order of
/// the elements. The first failure stops new work; the tasks already running finish (they are never cancelled:
/// cancelling a task inside URLSession's `data(for:)` can deadlock swift-corelibs-foundation) and the failure is
/// thrown. Callers that want every outcome make `body` return a `Result` and never throw.
public func boundedMap<Element: Sendable, Output: Sendable, Failure: Error>(
    _ elements: [Element], limit: Int, _ body: @escaping @Sendable (Element) async throws(Failure) -> Output
) async throws(Failure) -> [Output] {
    let limit = max(1, limit)
    let settled = await withTaskGroup(of: Settled<Output, Failure>.self) { group in
        var outputs = [Output?](repeating: nil, count: elements.count)
        var failure: Failure?
        var next = 0
        func start() {
            let index = next
            let element = elements[index]
            next += 1
            group.addTask {
                do throws(Failure) { return Settled(index: index, result: .success(try await body(element))) } catch {
                    return Settled(index: index, result: .failure(error))
                }
            }
        }
        while next < elements.count && next < limit { start() }
        // A struct child result, not a tuple: Swift 6.3.1 with -O corrupts task-group results that are tuples
        // holding a Result (a crash or a wrong index; reproduced in a standalone program, fine at -Onone).
        while let done = await group.next() {
            switch done.result {
            case .success(let output): outputs[done.index] = output
            case .failure(let error): failure = failure ?? error
            }
            if failure == nil && next < elements.count { start() }
        }
        return failure.map { SettledAll.failed($0) } ?? .finished(outputs.compactMap { $0 })
    }
    switch settled {
    case .finished(let outputs): return outputs
    case .failed(let failure): throw failure
    }
}

private struct Settled<Output: Sendable, Failure: Error>: Sendable {
    var index: Int
    var result: Result<Output, Failure>
}

private enum SettledAll<Output: Sendable, Failure: Error>: Sendable {
    case finished([Output])
    case failed(Failure)
}

extension Result where Success: Sendable {
    /// The outcome of an async body as a value, to carry a typed error out of a task.
    public init(_ body: () async throws(Failure) -> Success) async {
        do throws(Failure) { self = .success(try await body()) } catch { self = .failure(error) }
    }
}
