import { ApplicationFailure } from '@temporalio/common';
import { classifyGmailError, describeGmailError } from '../gmail/errors.js';
import { extractionKey } from '../mailbox-ids.js';
import { type ActivityDeps, activityLog, heartbeatingEach } from './context.js';
import { fleetPlanPage, storeFleetPlan } from '../lake/fleets.js';
import { FAILURES_KEPT, type FleetMailbox, type FleetPage, type FleetPlan, type FleetRequest } from '../workflows/fleet-contracts.js';

/**
 * Each mailbox may spend up to twice its fair share of the project's quota: a mailbox that is preparing, listing or
 * committing spends nothing, and its share would idle. The project's bookings (first come, first served, shared by
 * every worker) keep the sum at the project's rate whatever the mailboxes ask, so while all are busy each still gets
 * its fair share, and none can take more than twice it.
 */
const OVERSUBSCRIPTION = 2;

/**
 * The fleet's mailboxes: the domain's directory (suspended users reported, not extracted) or the given list. Given a
 * key (`storeAs`: the fleet's "<workflow id>/<first run id>"), the plan is stored in the lake (fleet_mailboxes) and read back a page at a time (fleetMailboxes); the
 * answer then carries counts and the first skipped mailboxes only, whatever the size of the domain. Without one (fleets
 * planned before the `fleet-plan-in-lake` patch) the whole list is the answer.
 */
export function fleetActivities(deps: ActivityDeps) {
  const mailbox = (request: FleetPage['selection'], account: string): FleetMailbox => ({
    account,
    workflowId: deps.ids.extraction(account),
    extractionKey: extractionKey({ ...request, account }),
  });
  return heartbeatingEach({
    async planFleet({ storeAs: fleet, ...request }: FleetRequest & { storeAs?: string }): Promise<FleetPlan> {
      const log = activityLog(deps);
      let accounts: string[];
      const skipped: FleetPlan['skipped'] = [];
      if (request.domain) {
        if (!deps.directory)
          throw ApplicationFailure.nonRetryable(
            'a fleet by domain needs a service-account key (GMAIL_CREDENTIALS_FILE) and GMAIL_DIRECTORY_ADMIN on the workers',
            'FleetDirectoryUnavailable',
          );
        let users;
        try {
          users = await deps.directory(request.domain);
        } catch (e) {
          const kind = classifyGmailError(e);
          const message = `cannot list the users of ${request.domain}: ${describeGmailError(e)}`;
          if (kind === 'transient') throw new Error(message);
          throw ApplicationFailure.nonRetryable(message, 'FleetDirectoryDenied');
        }
        const domain = `@${request.domain.toLowerCase()}`;
        accounts = [];
        for (const u of users.filter((x) => x.email.endsWith(domain))) {
          if (u.suspended) skipped.push({ account: u.email, reason: 'suspended in the directory' });
          else accounts.push(u.email);
        }
      } else {
        accounts = [...new Set((request.accounts ?? []).map((a) => a.trim().toLowerCase()))];
      }
      const quotaShare = Math.min(1, OVERSUBSCRIPTION * (deps.fairShare?.(request.concurrency) ?? 1));
      log.info({ mailboxes: accounts.length, skipped: skipped.length, quotaShare }, 'fleet planned');
      if (!fleet) return { mailboxes: accounts.map((a) => mailbox(request, a)), skipped, quotaShare };
      await storeFleetPlan(deps.lake, fleet, accounts);
      return {
        mailboxes: [],
        skipped: skipped.slice(0, FAILURES_KEPT),
        skippedCount: skipped.length,
        stored: { fleet, mailboxes: accounts.length },
        quotaShare,
      };
    },

    /** The next page of a stored plan: the mailboxes from position `from` on, at most `limit`. */
    async fleetMailboxes(page: FleetPage): Promise<FleetMailbox[]> {
      const accounts = await fleetPlanPage(deps.lake, page.fleet, page.from, page.limit);
      return accounts.map((a) => mailbox(page.selection, a));
    },
  });
}
