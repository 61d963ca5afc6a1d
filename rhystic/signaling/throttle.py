"""A per-connection token bucket: bursts are fine, floods are not."""
import time


class TokenBucket:
    __slots__ = ('rate', 'burst', 'tokens', 'stamp', 'strikes', 'clock')

    def __init__(self, rate, burst, clock=time.monotonic):
        self.rate, self.burst, self.clock = float(rate), float(burst), clock
        self.tokens, self.stamp, self.strikes = float(burst), clock(), 0

    def take(self):
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            self.strikes = 0
            return True
        self.strikes += 1
        return False

    def abusive(self):
        """Still sending after a whole bucket's worth of refusals: not a burst any more."""
        return self.strikes > self.burst
