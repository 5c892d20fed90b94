package dns

import (
	"container/list"
	"net/netip"
	"sync"
	"time"
)

// DefaultCacheSize bounds the addresses a Cache remembers across all
// namespaces: about 100 bytes each, so 6.5 MB at most.
const DefaultCacheSize = 65536

// Cache holds, for each network namespace and address, the most recent
// answer that named it, until its TTL runs out. It is safe for
// concurrent use: the source adds answers as they arrive, the tick loop
// looks names up.
type Cache struct {
	mu    sync.Mutex
	max   int
	items map[key]*list.Element
	order *list.List // of *entry, the oldest answer first: what goes when full
	added uint64
}

type key struct {
	netns uint32
	addr  netip.Addr
}

type entry struct {
	key
	name    string
	expires time.Time
}

// NewCache returns an empty cache of at most size addresses
// (DefaultCacheSize if size <= 0).
func NewCache(size int) *Cache {
	if size <= 0 {
		size = DefaultCacheSize
	}
	return &Cache{max: size, items: map[key]*list.Element{}, order: list.New()}
}

// Add records the answers of a message received at now by a socket of
// netns. A newer answer for an address replaces the older one, whatever
// the names: the most recent answer is the one the application used.
// When the cache is full, the oldest answer goes.
func (c *Cache) Add(netns uint32, answers []Answer, now time.Time) {
	if len(answers) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, a := range answers {
		k := key{netns, a.Addr.Unmap()}
		e := &entry{key: k, name: a.Name, expires: now.Add(a.TTL)}
		if el, ok := c.items[k]; ok {
			c.order.Remove(el)
		}
		c.items[k] = c.order.PushBack(e)
		c.added++
		for c.order.Len() > c.max {
			c.drop(c.order.Front())
		}
	}
}

// Name is the name of addr in netns at time at: the most recent answer
// still within its TTL, or "".
func (c *Cache) Name(netns uint32, addr netip.Addr, at time.Time) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[key{netns, addr.Unmap()}]
	if !ok {
		return ""
	}
	e := el.Value.(*entry)
	if !at.Before(e.expires) {
		c.drop(el)
		return ""
	}
	return e.name
}

// Len is the number of addresses held.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}

// Added counts the answers added since the cache was made.
func (c *Cache) Added() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.added
}

func (c *Cache) drop(el *list.Element) {
	delete(c.items, el.Value.(*entry).key)
	c.order.Remove(el)
}
