package clustertest_test

import (
	"errors"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/ampel/ampel/warehouse/clustertest"
)

// TestClusterHold checks the hold on the cluster: while a test holds it,
// another holder (here another open file description, as another test
// binary has) cannot lock the file, a subtest that asks again does not
// block, and when the test ends the lock is released.
func TestClusterHold(t *testing.T) {
	t.Run("held", func(t *testing.T) {
		clustertest.Cluster(t)
		if free(t) {
			t.Fatalf("the lock %s is free while a test holds the cluster", os.Getenv(clustertest.EnvLock))
		}
		t.Run("nested", func(t *testing.T) {
			clustertest.Cluster(t) // would block if the process locked twice
		})
		if free(t) {
			t.Fatal("the lock is free after a nested hold ended while the outer one still holds")
		}
	})
	// tests of other packages may hold the cluster now: wait for the lock
	// rather than try it once
	got := make(chan error, 1)
	f, err := os.OpenFile(os.Getenv(clustertest.EnvLock), os.O_RDWR, 0)
	if err != nil {
		t.Fatalf("open the lock: %v", err)
	}
	defer f.Close()
	go func() { got <- syscall.Flock(int(f.Fd()), syscall.LOCK_EX) }()
	select {
	case err := <-got:
		if err != nil {
			t.Fatalf("lock: %v", err)
		}
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	case <-time.After(10 * time.Minute):
		t.Fatal("the lock is still held 10 minutes after the test that held the cluster ended")
	}
}

// free tries the lock the way another test binary would: its own open
// file description, without waiting. (Only "not free" says something while
// tests of other packages run: they may hold the cluster too.)
func free(t *testing.T) bool {
	t.Helper()
	f, err := os.OpenFile(os.Getenv(clustertest.EnvLock), os.O_RDWR, 0)
	if err != nil {
		t.Fatalf("open the lock: %v", err)
	}
	defer f.Close()
	err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return false
	}
	if err != nil {
		t.Fatalf("try the lock: %v", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_UN); err != nil {
		t.Fatalf("unlock: %v", err)
	}
	return true
}
