/*
 * fault/timer.h - timers for plugins (ABI 1.3).
 *
 * A fault_timer calls back once at a deadline on the fault_now_us() clock,
 * to the microsecond (the host keeps every deadline in one heap behind a
 * kernel timer; the callback runs within the kernel's wake-up latency of
 * the deadline, not rounded to a millisecond). It is the timer the relay's
 * own delays use, so a fault that schedules work with it lines up with
 * chunk deadlines (fault_verdict.until_us).
 *
 *   fault_timer *t;
 *   fault_timer_new(self, on_fire, conn_state, &t);   in attach(), say
 *   fault_timer_start(t, 250000);                     fire in 250 ms
 *   fault_timer_start_at(t, c->arrived_us + delay);   or at a time
 *   fault_timer_stop(t);                              disarm (may re-arm)
 *   fault_timer_free(t);                              in detach()
 *
 * A timer fires once per start; starting an armed timer moves its
 * deadline (re-arming). To repeat, start it again from its callback.
 * Deadlines already past fire from the next loop iteration, never inside
 * fault_timer_start(). Timers that share a deadline fire in start order.
 *
 * Starting needs the loop: call fault_timer_start*() from start() or
 * later (creating the timer may happen earlier). An armed timer does not
 * keep the run alive by itself: the run ends at --duration, on a signal
 * or when the command returns, and the timers of a plugin are stopped and
 * freed by the host after its stop() and destroy() if the plugin did not
 * free them itself. The callback may stop, start or free its own timer
 * and any other.
 */
#ifndef FAULT_TIMER_H
#define FAULT_TIMER_H

#include <fault/common.h>

FAULT_BEGIN_DECLS

typedef struct fault_timer fault_timer;

/* Runs on the loop thread when the timer's deadline comes. */
typedef void (*fault_timer_cb)(fault_timer *t, void *userdata);

/* Creates a disarmed timer owned by self. Returns 0 and *out, or
 * FAULT_EINVAL (NULL self, cb or out) or FAULT_ENOMEM. */
FAULT_API int fault_timer_new(fault_plugin *self, fault_timer_cb cb, void *userdata,
                              fault_timer **out);
/* Arms t to fire delay_us microseconds from now (0: on the next loop
 * iteration), replacing any earlier deadline. Returns 0, FAULT_EPERM (no
 * loop yet) or FAULT_ENOMEM. */
FAULT_API int fault_timer_start(fault_timer *t, uint64_t delay_us);
/* Arms t for an absolute deadline on the fault_now_us() clock. Same
 * returns as fault_timer_start(). */
FAULT_API int fault_timer_start_at(fault_timer *t, uint64_t at_us);
/* Disarms t (nothing happens if it is not armed); it may be started again. */
FAULT_API void fault_timer_stop(fault_timer *t);
/* Whether t is armed, and its deadline (fault_now_us() clock; 0 when not
 * armed). */
FAULT_API bool fault_timer_armed(const fault_timer *t);
FAULT_API uint64_t fault_timer_deadline(const fault_timer *t);
/* Disarms and frees t. NULL is accepted. Safe from t's own callback. */
FAULT_API void fault_timer_free(fault_timer *t);

FAULT_END_DECLS

#endif /* FAULT_TIMER_H */
