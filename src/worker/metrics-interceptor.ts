import type { Context } from '@temporalio/activity';
import { CancelledFailure } from '@temporalio/common';
import type { ActivityExecuteInput, ActivityInboundCallsInterceptor, Next } from '@temporalio/worker';
import { activityDuration } from '../metrics.js';

/** Times every activity execution into `gmail_lake_activity_duration_seconds` by type and outcome. */
export class ActivityMetrics implements ActivityInboundCallsInterceptor {
  constructor(private readonly ctx: Context) {}

  async execute(input: ActivityExecuteInput, next: Next<ActivityInboundCallsInterceptor, 'execute'>): Promise<unknown> {
    const end = activityDuration.startTimer({ activity: this.ctx.info.activityType });
    try {
      const result = await next(input);
      end({ outcome: 'completed' });
      return result;
    } catch (e) {
      end({ outcome: e instanceof CancelledFailure || this.ctx.cancellationSignal.aborted ? 'cancelled' : 'failed' });
      throw e;
    }
  }
}
