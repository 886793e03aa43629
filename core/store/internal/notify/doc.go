// Package notify wakes queue consumers when new items are committed. It is
// shared by the store implementations so Queue.Wait behaves the same in all.
package notify
