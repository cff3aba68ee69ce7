//! LTI Advantage on the tool's side: grade passback through a durable
//! outbox, rosters, and the signer and token cache they share.

pub mod passback;
pub mod roster;

use std::sync::Arc;

use microcred_lti::advantage::{AccessToken, ServiceError, TokenCache, TokenEndpoint, ToolSigner};
use sea_orm::DatabaseConnection;

use crate::keys;
use crate::metrics::Metrics;
use crate::store::entities::platform;

/// Everything a service call needs: the HTTP client, the token cache, the
/// database, and the metrics that count failed sends.
#[derive(Clone)]
pub struct ServiceClient {
    pub db: DatabaseConnection,
    pub http: reqwest::Client,
    pub tokens: Arc<TokenCache>,
    pub metrics: Metrics,
}

pub fn token_endpoint(platform: &platform::Model) -> TokenEndpoint {
    TokenEndpoint {
        token_url: platform.token_url.clone(),
        client_id: platform.client_id.clone(),
        audience: platform.token_audience.clone(),
    }
}

impl ServiceClient {
    pub async fn signer(&self) -> Result<ToolSigner, ServiceError> {
        let key = keys::signing_key(&self.db).await.map_err(|e| ServiceError::Signing(e.to_string()))?;
        Ok(ToolSigner { kid: key.kid, key: key.key })
    }

    /// An access token for `scopes`, from the cache when it has one.
    pub async fn token(&self, platform: &platform::Model, scopes: &[&str]) -> Result<AccessToken, ServiceError> {
        let signer = self.signer().await?;
        self.tokens.token(&self.http, &token_endpoint(platform), &signer, scopes).await
    }

    pub fn forget_token(&self, platform: &platform::Model, scopes: &[&str]) {
        self.tokens.invalidate(&token_endpoint(platform), scopes);
    }
}
