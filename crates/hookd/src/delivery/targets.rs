//! A short-lived cache of where each endpoint's deliveries go and which secrets sign them.
//!
//! Every attempt needs the endpoint's URL, its signing keys and its OAuth2 credentials, if any; reading, decrypting and
//! preparing them per attempt would put a database read on the hot path. Entries live a second and are dropped
//! at once when this node changes the endpoint (another node's change is seen within the TTL).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use url::Url;

use crate::crypto::Cipher;
use crate::domain::ids::EndpointId;
use crate::domain::oauth2::ClientCredentials;
use crate::domain::secret::KeyRing;
use crate::signing::Signer;
use crate::store::DynStore;

/// Short enough that a change made through another node (URL, secret, disabling) takes effect
/// within a second; long enough to keep the database off the hot path.
const TTL: Duration = Duration::from_secs(1);

pub struct Target {
    pub url: Url,
    /// The decrypted key ring, ready to sign with.
    pub signer: Signer,
    pub is_active: bool,
    /// OAuth2 client credentials: deliveries carry a bearer token from them.
    pub auth: Option<ClientCredentials>,
}

pub struct Targets {
    store: DynStore,
    cipher: Cipher,
    cache: Mutex<HashMap<EndpointId, (Arc<Target>, Instant)>>,
}

impl Targets {
    pub fn new(store: DynStore, cipher: Cipher) -> Self {
        Self {
            store,
            cipher,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The endpoint's target, or `None` when it was deleted.
    pub async fn get(&self, id: &EndpointId) -> anyhow::Result<Option<Arc<Target>>> {
        if let Some((target, loaded)) = self.lock().get(id) {
            if loaded.elapsed() < TTL {
                return Ok(Some(Arc::clone(target)));
            }
        }
        let Some(row) = self.store.dispatch_target(id).await? else {
            self.invalidate(id);
            return Ok(None);
        };
        let keys: KeyRing = self.cipher.open_json(&row.signing_keys)?;
        let url = Url::parse(&row.url)?;
        let target = Arc::new(Target {
            url,
            signer: Signer::new(&keys),
            is_active: row.is_active,
            auth: crate::oauth2::open_endpoint_auth(&self.cipher, &row.auth_sealed)?,
        });
        let mut cache = self.lock();
        if cache.len() > 100_000 {
            cache.retain(|_, (_, loaded)| loaded.elapsed() < TTL);
        }
        cache.insert(id.clone(), (Arc::clone(&target), Instant::now()));
        Ok(Some(target))
    }

    pub fn invalidate(&self, id: &EndpointId) {
        self.lock().remove(id);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<EndpointId, (Arc<Target>, Instant)>> {
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }
}
