import assert from 'node:assert/strict';
import { test } from 'node:test';
import { labelsDigest } from '../../src/lake/runs.js';

const labels = [
  { id: 'INBOX', name: 'INBOX', type: 'system' },
  { id: 'Label_1', name: 'Projects', type: 'user' },
  { id: 'Label_2', name: 'Receipts', type: 'user' },
];

test("labels' digest: the same labels in any order are the same; a rename, a new label, a deletion or a type change is not", () => {
  const d = labelsDigest(labels);
  assert.equal(labelsDigest([...labels].reverse()), d, 'order-free');
  assert.notEqual(labelsDigest(labels.map((l) => (l.id === 'Label_1' ? { ...l, name: 'Projects 2027' } : l))), d, 'renamed');
  assert.notEqual(labelsDigest([...labels, { id: 'Label_3', name: 'New', type: 'user' }]), d, 'created');
  assert.notEqual(labelsDigest(labels.slice(0, 2)), d, 'deleted');
  assert.notEqual(labelsDigest(labels.map((l) => ({ ...l, type: 'user' }))), d, 'type');
  // Names are data: one that looks like the separator of another pair does not collide.
  assert.notEqual(labelsDigest([{ id: 'a', name: 'b","c', type: 'user' }]), labelsDigest([{ id: 'a', name: 'b', type: 'c","user' }]));
});
