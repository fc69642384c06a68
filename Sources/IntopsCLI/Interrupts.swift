import Dispatch
import Foundation

/// SIGINT and SIGTERM during an apply: the first asks the applier to start nothing new and to let what is in
/// flight finish, so the state is saved and intops exits 130; a second one ends the process at once.
final class Interrupts: @unchecked Sendable {
    static let shared = Interrupts()

    private let lock = NSLock()
    private var count = 0
    private var sources: [DispatchSourceSignal] = []

    var requested: Bool { lock.withLock { count > 0 } }

    /// Starts listening; `notice` is told once, on the first signal.
    func install(notice: @escaping @Sendable () -> Void) {
        lock.withLock {
            guard sources.isEmpty else { return }
            for number in [SIGINT, SIGTERM] {
                signal(number, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
                source.setEventHandler { [self] in
                    let seen = lock.withLock { () -> Int in
                        count += 1
                        return count
                    }
                    if seen == 1 { notice() } else { _exit(130) }
                }
                source.resume()
                sources.append(source)
            }
        }
    }
}
