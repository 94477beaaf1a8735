import CoordinatorAPI
import Testing

@testable import Worker

@Suite("The worker's lease decisions (LeasePlanner, no clock, no coordinator)")
struct LeasePlannerTests {
    func planner(threads: Int = 4, idleExit: Double? = nil) -> LeasePlanner {
        LeasePlanner(threads: threads, leaseWait: 10, idleExit: idleExit, targetLeaseSeconds: 0.5, now: 100)
    }

    @Test("lease size follows the measured task time: ~0.5 s of work per thread, 1 to 32 tasks each, minus what is in hand")
    func leaseSize() {
        let p = planner()
        #expect(p.next(queued: 0, running: 0, secondsPerTask: 0, now: 100) == .lease(max: 4, wait: 10))
        #expect(p.next(queued: 0, running: 0, secondsPerTask: 0.1, now: 100) == .lease(max: 20, wait: 10))
        #expect(p.next(queued: 0, running: 0, secondsPerTask: 1e-6, now: 100) == .lease(max: 128, wait: 10))
        #expect(p.next(queued: 0, running: 0, secondsPerTask: 30, now: 100) == .lease(max: 4, wait: 10))
        // With tasks in hand: fewer, and a short poll so a drain is not held up.
        #expect(p.next(queued: 2, running: 4, secondsPerTask: 0.1, now: 100) == .lease(max: 14, wait: 2))
        #expect(p.next(queued: 3, running: 4, secondsPerTask: 30, now: 100) == .lease(max: 1, wait: 2))
        // Every thread has one queued: wait for room.
        #expect(p.next(queued: 4, running: 4, secondsPerTask: 0.1, now: 100) == .waitForRoom)
    }

    @Test("idle exit: the long poll ends by the idle deadline; nothing for idleExit seconds with nothing in hand exits, not before, not while busy")
    func idleExit() {
        var p = planner(idleExit: 30)
        #expect(p.next(queued: 0, running: 0, secondsPerTask: 0, now: 100) == .lease(max: 4, wait: 10))
        #expect(p.next(queued: 0, running: 0, secondsPerTask: 0, now: 125) == .lease(max: 4, wait: 5))
        #expect(p.next(queued: 0, running: 0, secondsPerTask: 0, now: 200) == .lease(max: 4, wait: 0.05))
        #expect(p.answered(tasks: 0, busy: false, now: 129.9).answer == .again)
        #expect(p.answered(tasks: 0, busy: true, now: 131).answer == .again)
        #expect(p.answered(tasks: 3, busy: false, now: 131).answer == .work)
        // Work restarts the idle clock.
        #expect(p.answered(tasks: 0, busy: false, now: 160).answer == .again)
        #expect(p.answered(tasks: 0, busy: false, now: 161).answer == .exitIdle)
        var never = planner()
        #expect(never.answered(tasks: 0, busy: false, now: 1e9).answer == .again)
    }

    @Test("outages back off 0.5 s doubling to 10 s, announced once, their end once; a refusal stops the worker")
    func failures() {
        var p = planner()
        let down = ClientError.unreachable("connection refused")
        var delays: [Double] = []
        var announced = 0
        for _ in 0..<7 {
            guard case let .retry(delay, announce) = p.failed(down) else {
                Issue.record("an outage must be retried")
                return
            }
            delays.append(delay)
            if announce { announced += 1 }
        }
        #expect(delays == [0.5, 1, 2, 4, 8, 10, 10])
        #expect(announced == 1)
        #expect(p.failed(ClientError.http(status: 503, message: "busy")) == .retry(delay: 10, announce: false))
        #expect(p.failed(ClientError.http(status: 429, message: "slow down")) == .retry(delay: 10, announce: false))
        let back = p.answered(tasks: 1, busy: false, now: 100)
        #expect(back.recovered && back.answer == .work)
        #expect(!p.answered(tasks: 1, busy: false, now: 101).recovered)
        #expect(p.failed(down) == .retry(delay: 0.5, announce: true), "backoff starts over after an answer")
        guard case let .stop(reason) = p.failed(ClientError.http(status: 401, message: "bad token")) else {
            Issue.record("a 401 must stop the worker")
            return
        }
        #expect(reason.contains("refused this worker") && reason.contains("401"))
    }
}
