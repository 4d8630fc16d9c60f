package dvsim

import (
	"fmt"
	mrand "math/rand/v2"
	"time"
)

// newMutation starts the next batch of changes, with the random stream
// of its number. The caller holds s.mu.
func (s *Server) newMutation() *mutation {
	s.mutations++
	rng := mrand.New(mrand.NewPCG(uint64(s.opts.Seed), uint64(1000+s.mutations)))
	return &mutation{s: s, rng: rng, g: &gen{s: s, rng: rng, cum: s.userWeights()}, now: s.clock().UTC().Truncate(time.Second),
		created: map[rowRef]bool{}, updated: map[rowRef]bool{}, deleted: map[rowRef]bool{}, lastLead: -1, lastAccount: -1}
}

// Delete deletes one live record of the table with the logical name (an
// activity by its type or as activitypointer) as a user deleting it in
// Dynamics does, with the relationship behaviour of Mutate's deletes
// (parental children go with it, other lookups to it are cleared), and
// answers what changed as Mutate does. An unknown table or a key that is
// not a live record of it is an error and changes nothing.
func (s *Server) Delete(logical, id string) (MutateResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.byLogical[logical]
	if t == nil {
		return MutateResult{}, fmt.Errorf("dvsim: delete: no table %q", logical)
	}
	row := t.rowOf(id)
	if row < 0 || !t.has(row) || !t.alive(row) {
		return MutateResult{}, fmt.Errorf("dvsim: delete: %s %s is not a live record", logical, id)
	}
	m := s.newMutation()
	root := rowRef{t.owner, row}
	m.del(root)
	m.cascade([]rowRef{root})
	return m.result(), nil
}
