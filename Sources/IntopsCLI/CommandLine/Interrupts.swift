import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Signals seen. An atomic store is async-signal-safe, and the handler touches nothing else but `write`.
private let signalsSeen = Atomic<Int32>(0)
/// The handler writes a byte to this pipe to wake the thread that tells the user: a blocking read, no polling.
private let wakeDescriptor = Atomic<Int32>(-1)

private func onInterrupt(_ number: Int32) {
    let seen = signalsSeen.add(1, ordering: .sequentiallyConsistent).newValue
    if seen > 1 { _exit(130) }
    var byte: UInt8 = 1
    _ = write(wakeDescriptor.load(ordering: .sequentiallyConsistent), &byte, 1)
}

/// SIGINT and SIGTERM during an apply: the first asks the applier to start nothing new and to let what is in
/// flight finish, so the state is saved and intops exits 130 (before the first change, the run ends there and
/// releases its lock); a second one ends the process at once.
///
/// A C signal handler rather than a dispatch source: libdispatch on Linux reads signals through signalfd, which
/// only sees a signal when every thread blocks it; under load the kernel picked a thread that did not, and with
/// SIG_IGN the signal was lost.
final class Interrupts: Sendable {
    static let shared = Interrupts()

    private let installed = Mutex(false)
    /// Who waits for the first signal (a prompt that must give up); resumed by the notice thread.
    private let waiters = Mutex<(signalled: Bool, continuations: [CheckedContinuation<Void, Never>])>((false, []))

    var requested: Bool { signalsSeen.load(ordering: .sequentiallyConsistent) > 0 }

    /// Returns at the first signal (at once if there was one); never returns without one.
    func signalled() async {
        await withCheckedContinuation { continuation in
            let now = waiters.withLock { waiters in
                if !waiters.signalled { waiters.continuations.append(continuation) }
                return waiters.signalled
            }
            if now { continuation.resume() }
        }
    }

    /// Starts listening; `notice` is told once, on the first signal.
    func install(notice: @escaping @Sendable () -> Void) {
        let first = installed.withLock { installed in
            defer { installed = true }
            return !installed
        }
        guard first else { return }
        var descriptors: [Int32] = [-1, -1]
        guard pipe(&descriptors) == 0 else { return }
        wakeDescriptor.store(descriptors[1], ordering: .sequentiallyConsistent)
        signal(SIGINT, onInterrupt)
        signal(SIGTERM, onInterrupt)
        let readEnd = descriptors[0]
        Thread {
            var byte: UInt8 = 0
            while read(readEnd, &byte, 1) < 0 && errno == EINTR {}
            notice()
            let waiting = self.waiters.withLock { waiters in
                waiters.signalled = true
                defer { waiters.continuations = [] }
                return waiters.continuations
            }
            for waiter in waiting { waiter.resume() }
        }.start()
    }
}
