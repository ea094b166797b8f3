package webhooks

import "sync"

// slots bounds the calls in flight, in all and per store, so that one store's slow
// receivers cannot take every slot.
type slots struct {
	mu       sync.Mutex
	total    int // bound of all calls
	perStore int // bound of one store's calls
	used     int
	byStore  map[int64]int
}

func newSlots(total, perStore int) *slots {
	return &slots{total: total, perStore: perStore, byStore: map[int64]int{}}
}

// acquire takes a slot for a call of store. When none is free it reports whether the
// bound of all calls (full) or only the store's refused it.
func (s *slots) acquire(store int64) (ok, full bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.used >= s.total {
		return false, true
	}
	if s.byStore[store] >= s.perStore {
		return false, false
	}
	s.used++
	s.byStore[store]++
	return true, false
}

// release gives back a slot acquire took for store.
func (s *slots) release(store int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.used--
	if s.byStore[store]--; s.byStore[store] <= 0 {
		delete(s.byStore, store)
	}
}

// free returns how many calls may start (before the per-store bound).
func (s *slots) free() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total - s.used
}
