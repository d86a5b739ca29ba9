//! Integrations cached per Lambda instance, so a callback usually costs no DynamoDB read.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::ids::IntegrationId;
use crate::model::Integration;
use crate::ports::{IntegrationStore, StoreError};

/// How long a cached integration is trusted. A changed token is picked up at once anyway (see
/// [`IntegrationCache::refresh`]); this bounds how long a deleted integration stays reachable on
/// an instance that cached it.
pub const DEFAULT_TTL: Duration = Duration::from_secs(30);
const MAX_ENTRIES: usize = 1024;

pub struct IntegrationCache {
    store: Arc<dyn IntegrationStore>,
    ttl: Duration,
    entries: Mutex<HashMap<IntegrationId, (Instant, Arc<Integration>)>>,
}

/// An integration, and whether it came from the cache (and so may be stale).
pub struct Lookup {
    pub integration: Arc<Integration>,
    pub cached: bool,
}

impl IntegrationCache {
    pub fn new(store: Arc<dyn IntegrationStore>, ttl: Duration) -> Self {
        Self {
            store,
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The integration, from the cache when fresh. Absent integrations are not cached, so a bot
    /// connected a moment ago is found at once.
    pub async fn get(&self, id: &IntegrationId) -> Result<Option<Lookup>, StoreError> {
        if let Some(integration) = self.cached(id) {
            return Ok(Some(Lookup {
                integration,
                cached: true,
            }));
        }
        Ok(self.refresh(id).await?.map(|integration| Lookup {
            integration,
            cached: false,
        }))
    }

    /// Reads the integration from the store, replacing (or dropping) the cached copy.
    pub async fn refresh(&self, id: &IntegrationId) -> Result<Option<Arc<Integration>>, StoreError> {
        let found = self.store.get_integration(id).await?.map(Arc::new);
        let mut entries = self.entries();
        match &found {
            Some(integration) => {
                if entries.len() >= MAX_ENTRIES {
                    entries.clear();
                }
                entries.insert(id.clone(), (Instant::now(), integration.clone()));
            }
            None => {
                entries.remove(id);
            }
        }
        Ok(found)
    }

    /// Drops a cached copy (after the integration changed or was deleted in this process).
    pub fn forget(&self, id: &IntegrationId) {
        self.entries().remove(id);
    }

    fn cached(&self, id: &IntegrationId) -> Option<Arc<Integration>> {
        let entries = self.entries();
        let (at, integration) = entries.get(id)?;
        (at.elapsed() < self.ttl).then(|| integration.clone())
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<IntegrationId, (Instant, Arc<Integration>)>> {
        self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::MemoryStore;
    use crate::model::{BotProfile, IntegrationOptions, TaskTemplate};
    use crate::secret::AuthToken;
    use crate::time::Timestamp;

    fn integration(id: &str) -> Integration {
        Integration {
            id: IntegrationId::parse(id).unwrap(),
            name: id.to_owned(),
            auth_token: AuthToken::new(format!("token-of-{id}")),
            bot: BotProfile {
                name: id.to_owned(),
                uri: id.to_owned(),
                icon: None,
            },
            webhook_url: format!("https://desk.example/viber/{id}"),
            template: TaskTemplate::default(),
            options: IntegrationOptions::default(),
            contact_template: Default::default(),
            connected_by: None,
            created_at: Timestamp::from_millis(1_732_528_955_000),
        }
    }

    #[tokio::test]
    async fn holds_at_most_max_entries_and_never_an_unknown_id() {
        let store = Arc::new(MemoryStore::new());
        for n in 0..MAX_ENTRIES + 10 {
            store.put_integration(&integration(&format!("bot{n}"))).await.unwrap();
        }
        let cache = IntegrationCache::new(store, DEFAULT_TTL);
        for n in 0..MAX_ENTRIES + 10 {
            let id = IntegrationId::parse(&format!("bot{n}")).unwrap();
            assert!(cache.get(&id).await.unwrap().is_some());
            assert!(cache.entries().len() <= MAX_ENTRIES);
        }
        // Requests for ids that do not exist (a scanner trying URLs) leave nothing behind.
        cache.entries().clear();
        for n in 0..100 {
            let id = IntegrationId::parse(&format!("nobody{n}")).unwrap();
            assert!(cache.get(&id).await.unwrap().is_none());
        }
        assert_eq!(cache.entries().len(), 0);
    }
}
