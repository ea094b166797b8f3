package resources

// mergePatch applies an RFC 7386 JSON merge patch to target and returns the result:
// objects merge key by key, null removes a key, anything else (arrays too) replaces.
// target may be changed in place.
func mergePatch(target any, patch any) any {
	p, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	t, ok := target.(map[string]any)
	if !ok {
		t = map[string]any{}
	}
	for k, v := range p {
		if v == nil {
			delete(t, k)
			continue
		}
		t[k] = mergePatch(t[k], v)
	}
	return t
}
