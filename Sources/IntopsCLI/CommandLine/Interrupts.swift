import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Signals seen, written by the signal handler (a plain store, which is async-signal-safe) and read by polling.
nonisolated(unsafe) private var signalsSeen: Int32 = 0

private func onInterrupt(_ number: Int32) {
    signalsSeen += 1
    if signalsSeen > 1 { _exit(130) }
}

/// SIGINT and SIGTERM during an apply: the first asks the applier to start nothing new and to let what is in
/// flight finish, so the state is saved and intops exits 130; a second one ends the process at once.
///
/// A C signal handler rather than a dispatch source: libdispatch on Linux reads signals through signalfd, which
/// only sees a signal when every thread blocks it; under load the kernel picked a thread that did not, and with
/// SIG_IGN the signal was lost.
final class Interrupts: @unchecked Sendable {
    static let shared = Interrupts()

    private let lock = NSLock()
    private var installed = false

    var requested: Bool { signalsSeen > 0 }

    /// Starts listening; `notice` is told once, on the first signal.
    func install(notice: @escaping @Sendable () -> Void) {
        let first = lock.withLock { () -> Bool in
            defer { installed = true }
            return !installed
        }
        guard first else { return }
        signal(SIGINT, onInterrupt)
        signal(SIGTERM, onInterrupt)
        let watcher = Thread {
            while signalsSeen == 0 { usleep(20_000) }
            notice()
        }
        watcher.start()
    }
}
