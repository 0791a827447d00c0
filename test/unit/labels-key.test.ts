import assert from 'node:assert/strict';
import { test } from 'node:test';
import { labelsKey } from '../../src/lake/runs.js';

const labels = [
  { id: 'INBOX', name: 'INBOX', type: 'system' },
  { id: 'Label_1', name: 'Projects', type: 'user' },
  { id: 'Label_2', name: 'Receipts', type: 'user' },
];

test("labels' key: the same labels in any order are the same; a rename, a new label, a deletion or a type change is not", () => {
  const d = labelsKey(labels);
  assert.equal(labelsKey([...labels].reverse()), d, 'order-free');
  assert.notEqual(labelsKey(labels.map((l) => (l.id === 'Label_1' ? { ...l, name: 'Projects 2027' } : l))), d, 'renamed');
  assert.notEqual(labelsKey([...labels, { id: 'Label_3', name: 'New', type: 'user' }]), d, 'created');
  assert.notEqual(labelsKey(labels.slice(0, 2)), d, 'deleted');
  assert.notEqual(labelsKey(labels.map((l) => ({ ...l, type: 'user' }))), d, 'type');
  // Names are data: one that looks like the separator of another pair does not collide.
  assert.notEqual(labelsKey([{ id: 'a', name: 'b","c', type: 'user' }]), labelsKey([{ id: 'a', name: 'b', type: 'c","user' }]));
});
