package ccs

// CachedDocuments is the number of entries in s's document cache.
func CachedDocuments(s *Service) int { return s.docs.c.EstimatedSize() }
