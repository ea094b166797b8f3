package resources

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"strconv"

	"storeapi/db"
)

// SequencesCollection holds one counter per store and numbered resource (orders'
// `number`): {_id, store_id, resource, last, created_at}.
const SequencesCollection = "sequences"

// sequenceID is the deterministic _id of a store's counter for a resource.
func sequenceID(storeID int64, resource string) string {
	return fmt.Sprintf("%016x%08x", uint64(storeID), crc32.ChecksumIEEE([]byte(resource)))
}

// nextNumber takes the next number of the store's sequence for rule (atomically: two
// concurrent orders never get one number). The first number follows the highest one
// already stored, so imported documents keep theirs.
func (e *Engine) nextNumber(ctx context.Context, rule *Rule, storeID int64) (int64, error) {
	id := sequenceID(storeID, rule.Name)
	for range 3 {
		doc, err := e.store.Update(ctx, SequencesCollection, storeID, id, func(cur db.Doc) (db.Doc, error) {
			last, _ := db.Int64(cur["last"])
			cur["last"] = json.Number(strconv.FormatInt(last+1, 10))
			return cur, nil
		})
		if err == nil {
			n, _ := db.Int64(doc["last"])
			return n, nil
		}
		if !errors.Is(err, db.ErrNotFound) {
			return 0, err
		}
		start, err := e.highest(ctx, rule, storeID)
		if err != nil {
			return 0, err
		}
		err = e.store.Insert(ctx, SequencesCollection, db.Doc{"_id": id, "store_id": json.Number(strconv.FormatInt(storeID, 10)),
			"resource": rule.Name, "last": json.Number(strconv.FormatInt(start+1, 10)), createdAt: db.Timestamp(e.now())})
		if err == nil {
			return start + 1, nil
		}
		if !errors.Is(err, db.ErrDuplicate) {
			return 0, err
		}
		// Another request created the counter first: take a number from it.
	}
	return 0, fmt.Errorf("resources: no %s number after 3 attempts", rule.Name)
}

// highest is the largest numbered value stored in the store's documents of rule.
func (e *Engine) highest(ctx context.Context, rule *Rule, storeID int64) (int64, error) {
	docs, err := e.store.Find(ctx, rule.Name, db.Query{StoreID: storeID, Limit: 1,
		Sort:   []db.SortField{{Path: rule.Sequence, Desc: true}},
		Fields: []string{rule.Sequence}})
	if err != nil || len(docs) == 0 {
		return 0, err
	}
	n, _ := db.Int64(docs[0][rule.Sequence])
	return n, nil
}
