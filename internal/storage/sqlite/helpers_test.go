package sqlite_test

import (
	"time"

	"github.com/orchestrator/orchestrator/internal/storage"
)

func storagetestEvent() storage.AuditEvent {
	return storage.AuditEvent{Time: time.Now(), AccountID: "1", Actor: "operator", Action: "test", Address: "127.0.0.1"}
}
