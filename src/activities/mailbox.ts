import { messagesTotal } from '../metrics.js';
import { ApplicationFailure } from '@temporalio/common';
import { newMeter } from '../gmail/client.js';
import { classifyGmailError, describeGmailError, GMAIL_FAILURE, isFailedPrecondition } from '../gmail/errors.js';
import { storedIds } from '../lake/batches.js';
import { snapshotHolds, startRun, storeLabels } from '../lake/runs.js';
import { type ActivityDeps, activityLog, execution, heartbeatingEach, rethrowGmail } from './context.js';
import type { ListInput, ListResult, PrepareInput, PrepareResult, UnitMeter } from '../workflows/contracts.js';

/** Mailbox-level activities: the profile, labels and resume point before a backfill; listing pages of ids; labels after. */
export function mailboxActivities(deps: ActivityDeps) {
  /** One page of ids from Gmail (a rejected page token becomes GmailPageTokenExpired). */
  async function listOnePage(input: ListInput, meter: UnitMeter) {
    try {
      return await deps.gmail.scoped({ meter }).listPage(input.account, {
        pageToken: input.pageToken,
        q: input.query,
        labelIds: input.labelIds,
        includeSpamTrash: input.includeSpamTrash,
        maxResults: input.maxResults,
      });
    } catch (err) {
      if (input.pageToken && classifyGmailError(err) === 'invalidRequest' && !isFailedPrecondition(err))
        throw ApplicationFailure.nonRetryable(
          `Gmail no longer accepts the page token: ${describeGmailError(err)}`,
          GMAIL_FAILURE.pageTokenExpired,
        );
      rethrowGmail(err, activityLog(deps));
    }
  }

  return heartbeatingEach({
    /** Reads the profile (validating credentials), snapshots labels and finds a checkpoint to resume from. Retries: Temporal's. */
    async prepareExtraction(input: PrepareInput): Promise<PrepareResult> {
      const logger = activityLog(deps);
      const info = execution();
      let profile;
      let spamTrash = 0;
      let labels;
      const meter = newMeter();
      const gmail = deps.gmail.scoped({ meter });
      try {
        profile = await gmail.profile(input.account);
        // The profile counts SPAM and TRASH, which a listing without includeSpamTrash leaves out.
        spamTrash = (await gmail.labelTotal(input.account, 'SPAM')) + (await gmail.labelTotal(input.account, 'TRASH'));
        labels = await gmail.labels(input.account);
      } catch (err) {
        rethrowGmail(err, logger);
      }
      const checkpoint = await startRun(
        deps.lake,
        { account: input.account, extractionKey: input.extractionKey, workflowId: info.workflowId, runId: info.runId },
        labels,
      );
      logger.info(
        { messagesTotal: profile.messagesTotal, historyId: profile.historyId, resume: checkpoint?.persisted },
        'extraction prepared',
      );
      return {
        historyId: checkpoint?.historyId || profile.historyId,
        messagesTotal: profile.messagesTotal,
        spamTrashTotal: spamTrash,
        units: meter.units,
        resume: checkpoint && {
          pageToken: checkpoint.pageToken,
          historyId: checkpoint.historyId,
          listed: checkpoint.listed,
          persisted: checkpoint.persisted,
          skipped: checkpoint.skipped,
          failed: checkpoint.failed,
        },
      };
    },

    /**
     * Replaces the labels snapshot of the mailbox with Gmail's labels now (1 unit): at the end of a backfill, so that a
     * label renamed or created while it ran has its name in the lake (one deleted meanwhile leaves the snapshot; the
     * messages fetched before keep it in label_ids until a sync applies Gmail's history). A snapshot that already holds
     * them (nothing renamed, created or deleted since it was taken: the common case) is left alone, one read instead of
     * four statements of the lake that a fleet's small mailboxes share.
     */
    async refreshLabels(input: { account: string }): Promise<{ units: UnitMeter['units']; written: boolean }> {
      const meter = newMeter();
      let labels;
      try {
        labels = await deps.gmail.scoped({ meter }).labels(input.account);
      } catch (err) {
        rethrowGmail(err, activityLog(deps));
      }
      if (await snapshotHolds(deps.lake, input.account, labels)) return { units: meter.units, written: false };
      await storeLabels(deps.lake, input.account, labels);
      return { units: meter.units, written: true };
    },

    /**
     * Lists one page of message ids and asks the lake which it holds already, so a batch fetches only the rest (a
     * re-run of a stored mailbox fetches nothing, and no batch spends its quota share waiting on that probe).
     * Transient errors: retried per request, then by Temporal. A 400 on a page token (Gmail's tokens expire: after a
     * long pause, or a resume from an old checkpoint) is `GmailPageTokenExpired`, on which the workflow restarts the
     * listing — cheap, since stored ids are skipped before fetching.
     */
    async listPage(input: ListInput): Promise<ListResult> {
      const meter = newMeter();
      const page = await listOnePage(input, meter);
      const stored = await storedIds(deps.lake, input.account, page.ids);
      messagesTotal.inc({ stage: 'listed' }, page.ids.length);
      // Ids stored already are `present` here: they never reach a batch.
      messagesTotal.inc({ stage: 'present' }, stored.size);
      const { threadIds, ...rest } = page;
      return {
        ...rest,
        ids: page.ids.filter((id) => !stored.has(id)),
        ...(input.threads ? { threadIds: threadIds.filter((_, i) => !stored.has(page.ids[i]!)) } : {}),
        listed: page.ids.length,
        present: stored.size,
        units: meter.units,
      };
    },
  });
}
