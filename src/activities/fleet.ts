import { ApplicationFailure } from '@temporalio/common';
import { classifyGmailError, describeGmailError } from '../gmail/errors.js';
import { extractionKey } from '../mailbox-ids.js';
import { type ActivityDeps, activityLog, heartbeatingEach } from './context.js';
import type { FleetMailbox, FleetPlan, FleetRequest } from '../workflows/fleet-contracts.js';

/**
 * Each mailbox may spend up to twice its fair share of the project's quota: a mailbox that is preparing, listing or
 * committing spends nothing, and its share would idle. The project's bookings (first come, first served, shared by
 * every worker) keep the sum at the project's rate whatever the mailboxes ask, so while all are busy each still gets
 * its fair share, and none can take more than twice it.
 */
const OVERSUBSCRIPTION = 2;

/** The fleet's mailboxes: the domain's directory (suspended users reported, not extracted) or the given list. */
export function fleetActivities(deps: ActivityDeps) {
  return heartbeatingEach({
    async planFleet(request: FleetRequest): Promise<FleetPlan> {
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
      const mailboxes: FleetMailbox[] = accounts.map((account) => ({
        account,
        workflowId: deps.ids.extraction(account),
        extractionKey: extractionKey({ ...request, account }),
      }));
      const quotaShare = Math.min(1, OVERSUBSCRIPTION * (deps.fairShare?.(request.concurrency) ?? 1));
      log.info({ mailboxes: mailboxes.length, skipped: skipped.length, quotaShare }, 'fleet planned');
      return { mailboxes, skipped, quotaShare };
    },
  });
}
