//! The multi-replica deployments: `deploy/compose.yaml` (three replicas,
//! Redis and HAProxy), `deploy/haproxy.cfg` (the load balancer both use,
//! which keeps a 2025-era MCP session's requests on the replica that
//! opened it), and the Kubernetes manifests under `deploy/k8s/`.
//!
//! They are built from the image the `Dockerfile` makes (its port, its
//! user, its data directory) and the settings' names, so they change with
//! them.

use super::{Generated, Inputs, banner};

/// How many replicas run by default, in Compose and Kubernetes.
const REPLICAS: u32 = 3;
/// Kubernetes scales between these.
const MIN_REPLICAS: u32 = 3;
const MAX_REPLICAS: u32 = 10;
/// Replicas that must stay up through a voluntary disruption.
const MIN_AVAILABLE: u32 = 2;
/// The port `/metrics` is served on, inside the cluster only.
const METRICS_PORT: u16 = 9090;
/// The images the deployments run besides the server's.
const REDIS_IMAGE: &str = "redis:7.4-alpine";
const HAPROXY_IMAGE: &str = "haproxy:3.0-alpine";
/// The name every Kubernetes object and the Compose project go by.
const NAME: &str = "orchestrator-mcp";
/// The user the image runs as (the `Dockerfile`'s).
const UID: u32 = 10001;

/// Every file, in `OUTPUTS` order from `deploy/compose.yaml` on.
pub(crate) fn files(inputs: &Inputs) -> Vec<(&'static str, String)> {
    vec![
        ("deploy/compose.yaml", compose(inputs)),
        ("deploy/haproxy.cfg", haproxy(inputs, Discovery::Compose)),
        ("deploy/k8s/kustomization.yaml", kustomization()),
        ("deploy/k8s/configmap.yaml", configmap()),
        ("deploy/k8s/deployment.yaml", deployment(inputs)),
        ("deploy/k8s/service.yaml", service(inputs)),
        ("deploy/k8s/hpa.yaml", hpa()),
        ("deploy/k8s/pdb.yaml", pdb()),
        ("deploy/k8s/redis.yaml", redis()),
        ("deploy/k8s/haproxy.yaml", haproxy_k8s(inputs)),
    ]
}

/// The generated files, as `gen` writes them.
pub(crate) fn generated(inputs: &Inputs) -> Vec<Generated> {
    files(inputs)
        .into_iter()
        .map(|(path, text)| Generated { path, text })
        .collect()
}

/// Where HAProxy finds the replicas.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Discovery {
    /// Compose's DNS, which answers the service name with every replica.
    Compose,
    /// A headless Service's DNS in Kubernetes, one record per ready pod.
    Kubernetes,
}

fn compose(inputs: &Inputs) -> String {
    let port = inputs.port;
    format!(
        r#"# {banner}
#
# Three replicas of the server behind HAProxy, sharing one Redis: run
# `docker compose -f deploy/compose.yaml up --build` from the repository
# root, with your settings in .env (copy .env.example; Descope's project,
# and PUBLIC_URL set to the address clients use, http://localhost:{port} for
# a local try). Clients talk to HAProxy on port {port}; each replica serves
# Prometheus metrics on port {METRICS_PORT} inside the network.

name: {NAME}

services:
  redis:
    image: {REDIS_IMAGE}
    command: ["redis-server", "--appendonly", "yes"]
    volumes:
      - redis-data:/data
    healthcheck:
      test: ["CMD", "redis-cli", "ping"]
      interval: 5s
      timeout: 3s
      retries: 5
    restart: unless-stopped

  orchestrator:
    build:
      context: ..
      dockerfile: Dockerfile
    image: {NAME}:local
    env_file:
      - path: ../.env
        required: true
    environment:
      REDIS_URL: redis://redis:6379/0
      METRICS_ADDR: 0.0.0.0:{METRICS_PORT}
      LOG_FORMAT: json
    expose:
      - "{port}"
      - "{METRICS_PORT}"
    depends_on:
      redis:
        condition: service_healthy
    deploy:
      replicas: {REPLICAS}
    restart: unless-stopped

  lb:
    image: {HAPROXY_IMAGE}
    volumes:
      - ./haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro
    ports:
      - "{port}:{port}"
    depends_on:
      - orchestrator
    restart: unless-stopped

volumes:
  redis-data: {{}}
"#,
        banner = banner(),
    )
}

fn haproxy(inputs: &Inputs, discovery: Discovery) -> String {
    let port = inputs.port;
    let (resolvers, servers) = match discovery {
        Discovery::Compose => (
            "resolvers dns\n    nameserver docker 127.0.0.11:53\n    hold valid 5s\n",
            format!(
                "    server-template replica {MAX_REPLICAS} orchestrator:{port} check resolvers dns init-addr none"
            ),
        ),
        Discovery::Kubernetes => (
            "resolvers dns\n    parse-resolv-conf\n    hold valid 5s\n",
            format!(
                "    server-template replica {MAX_REPLICAS} {NAME}-pods:{port} check resolvers dns init-addr none"
            ),
        ),
    };
    format!(
        r#"# {banner}
#
# HAProxy in front of the replicas. Requests without an MCP session go to
# any replica (round robin); a 2025-era client's session lives in the
# replica that opened it, so a request bearing its Mcp-Session-Id goes
# there too: the replica is remembered from the answer that named the
# session, for as long as the session may idle.

global
    log stdout format raw local0

defaults
    mode http
    log global
    option httplog
    timeout connect 5s
    timeout client 300s
    timeout server 300s
    # Streams (SSE) stay open while a tool works.
    timeout tunnel 3600s

{resolvers}
frontend mcp
    bind :{port}
    default_backend replicas

backend replicas
    balance roundrobin
    option httpchk GET /health
    http-check expect status 200
    stick-table type string len 128 size 100k expire 30m
    stick on req.hdr(mcp-session-id)
    stick store-response res.hdr(mcp-session-id)
{servers}
"#,
        banner = banner(),
    )
}

fn kustomization() -> String {
    format!(
        r#"# {banner}
#
# `kubectl apply -k deploy/k8s` after creating the Secret:
#   kubectl create secret generic {NAME} --from-env-file=.env.production
# (DESCOPE_PROJECT_ID, DESCOPE_CLIENT_ID, DESCOPE_CLIENT_SECRET,
# APPROVAL_KEY, PUBLIC_URL and the rest; see .env.example). To use a Redis
# of your own, drop redis.yaml below and set REDIS_URL in the Secret.

apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
labels:
  - pairs:
      app.kubernetes.io/part-of: {NAME}
resources:
  - configmap.yaml
  - deployment.yaml
  - service.yaml
  - hpa.yaml
  - pdb.yaml
  - redis.yaml
  - haproxy.yaml
"#,
        banner = banner(),
    )
}

fn configmap() -> String {
    format!(
        r#"# {banner}
#
# The settings every replica shares that are not secret. Secret ones come
# from the Secret named {NAME} (see kustomization.yaml); a key there
# overrides the same key here.

apiVersion: v1
kind: ConfigMap
metadata:
  name: {NAME}
  labels:
    app.kubernetes.io/name: {NAME}
data:
  REDIS_URL: redis://{NAME}-redis:6379/0
  REDIS_FAILURE: closed
  METRICS_ADDR: 0.0.0.0:{METRICS_PORT}
  LOG_FORMAT: json
  DESCOPE_DEMO_MODE: "false"
"#,
        banner = banner(),
    )
}

fn deployment(inputs: &Inputs) -> String {
    let port = inputs.port;
    format!(
        r#"# {banner}
#
# The server: {REPLICAS} replicas spread over nodes, each ready once /health
# answers, restarted when it stops answering, given time to finish its
# requests when stopped.

apiVersion: apps/v1
kind: Deployment
metadata:
  name: {NAME}
  labels:
    app.kubernetes.io/name: {NAME}
spec:
  replicas: {REPLICAS}
  selector:
    matchLabels:
      app.kubernetes.io/name: {NAME}
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxUnavailable: 0
      maxSurge: 1
  template:
    metadata:
      labels:
        app.kubernetes.io/name: {NAME}
      annotations:
        prometheus.io/scrape: "true"
        prometheus.io/port: "{METRICS_PORT}"
        prometheus.io/path: /metrics
    spec:
      terminationGracePeriodSeconds: 30
      securityContext:
        runAsNonRoot: true
        runAsUser: {UID}
        runAsGroup: {UID}
        seccompProfile:
          type: RuntimeDefault
      topologySpreadConstraints:
        - maxSkew: 1
          topologyKey: kubernetes.io/hostname
          whenUnsatisfiable: ScheduleAnyway
          labelSelector:
            matchLabels:
              app.kubernetes.io/name: {NAME}
      containers:
        - name: server
          image: {NAME}:latest
          imagePullPolicy: IfNotPresent
          ports:
            - name: http
              containerPort: {port}
            - name: metrics
              containerPort: {METRICS_PORT}
          envFrom:
            - configMapRef:
                name: {NAME}
            - secretRef:
                name: {NAME}
          readinessProbe:
            httpGet:
              path: /health
              port: http
            periodSeconds: 5
            failureThreshold: 2
          livenessProbe:
            httpGet:
              path: /health
              port: http
            initialDelaySeconds: 10
            periodSeconds: 10
            failureThreshold: 3
          lifecycle:
            # Out of the Service's endpoints before the server stops.
            preStop:
              sleep:
                seconds: 5
          resources:
            requests:
              cpu: 250m
              memory: 128Mi
            limits:
              memory: 512Mi
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities:
              drop: ["ALL"]
          volumeMounts:
            - name: data
              mountPath: /app/data
            - name: tmp
              mountPath: /tmp
      volumes:
        - name: data
          emptyDir: {{}}
        - name: tmp
          emptyDir: {{}}
"#,
        banner = banner(),
    )
}

fn service(inputs: &Inputs) -> String {
    let port = inputs.port;
    format!(
        r#"# {banner}
#
# {NAME}: any ready replica, for what needs no session (every 2026-07-28
# request). {NAME}-pods: every ready replica by name, for HAProxy, which
# keeps a 2025-era session's requests on its replica.

apiVersion: v1
kind: Service
metadata:
  name: {NAME}
  labels:
    app.kubernetes.io/name: {NAME}
spec:
  selector:
    app.kubernetes.io/name: {NAME}
  ports:
    - name: http
      port: {port}
      targetPort: http
---
apiVersion: v1
kind: Service
metadata:
  name: {NAME}-pods
  labels:
    app.kubernetes.io/name: {NAME}
spec:
  clusterIP: None
  selector:
    app.kubernetes.io/name: {NAME}
  ports:
    - name: http
      port: {port}
      targetPort: http
"#,
        banner = banner(),
    )
}

fn hpa() -> String {
    format!(
        r#"# {banner}

apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {NAME}
  labels:
    app.kubernetes.io/name: {NAME}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {NAME}
  minReplicas: {MIN_REPLICAS}
  maxReplicas: {MAX_REPLICAS}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: 70
"#,
        banner = banner(),
    )
}

fn pdb() -> String {
    format!(
        r#"# {banner}

apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {NAME}
  labels:
    app.kubernetes.io/name: {NAME}
spec:
  minAvailable: {MIN_AVAILABLE}
  selector:
    matchLabels:
      app.kubernetes.io/name: {NAME}
"#,
        banner = banner(),
    )
}

fn redis() -> String {
    let name = format!("{NAME}-redis");
    let workload = small_deployment(
        &name,
        1,
        999,
        &format!(
            r#"        - name: redis
          image: {REDIS_IMAGE}
          args: ["--appendonly", "yes"]
          ports:
            - name: redis
              containerPort: 6379
          readinessProbe:
            exec:
              command: ["redis-cli", "ping"]
            periodSeconds: 5
"#
        ),
        r#"          volumeMounts:
            - name: data
              mountPath: /data
      volumes:
        - name: data
          emptyDir: {}
"#,
    );
    format!(
        r#"# {banner}
#
# One Redis for the replicas, its data kept on the pod's disk. For a Redis
# of your own (managed, replicated), leave this file out of
# kustomization.yaml and set REDIS_URL in the Secret.

{workload}---
{service}"#,
        banner = banner(),
        service = service_for(&name, "redis", 6379, ""),
    )
}

fn haproxy_k8s(inputs: &Inputs) -> String {
    let port = inputs.port;
    let name = format!("{NAME}-lb");
    let config: String = haproxy(inputs, Discovery::Kubernetes)
        .lines()
        .map(|line| {
            if line.is_empty() {
                "\n".to_owned()
            } else {
                format!("    {line}\n")
            }
        })
        .collect();
    let workload = small_deployment(
        &name,
        2,
        99,
        &format!(
            r#"        - name: haproxy
          image: {HAPROXY_IMAGE}
          ports:
            - name: http
              containerPort: {port}
          readinessProbe:
            tcpSocket:
              port: http
            periodSeconds: 5
"#
        ),
        &format!(
            r#"          volumeMounts:
            - name: config
              mountPath: /usr/local/etc/haproxy
              readOnly: true
      volumes:
        - name: config
          configMap:
            name: {NAME}-haproxy
"#
        ),
    );
    format!(
        r#"# {banner}
#
# HAProxy in front of the replicas (the same configuration as Compose's,
# finding them through the {NAME}-pods Service): the address clients use.
# Put your TLS terminator or Ingress in front of the {NAME}-lb Service.

apiVersion: v1
kind: ConfigMap
metadata:
  name: {NAME}-haproxy
  labels:
    app.kubernetes.io/name: {name}
data:
  haproxy.cfg: |
{config}---
{workload}---
{service}"#,
        banner = banner(),
        service = service_for(&name, "http", port, "  type: ClusterIP\n"),
    )
}

/// A Deployment of `replicas` pods of one small container running as
/// `uid`: `container` is its list entry up to its probes, `mounts` its
/// volume mounts and the pod's volumes.
fn small_deployment(name: &str, replicas: u32, uid: u32, container: &str, mounts: &str) -> String {
    format!(
        r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  labels:
    app.kubernetes.io/name: {name}
spec:
  replicas: {replicas}
  selector:
    matchLabels:
      app.kubernetes.io/name: {name}
  template:
    metadata:
      labels:
        app.kubernetes.io/name: {name}
    spec:
      securityContext:
        runAsNonRoot: true
        runAsUser: {uid}
        seccompProfile:
          type: RuntimeDefault
      containers:
{container}          resources:
            requests:
              cpu: 100m
              memory: 64Mi
            limits:
              memory: 256Mi
          securityContext:
            allowPrivilegeEscalation: false
            capabilities:
              drop: ["ALL"]
{mounts}"#
    )
}

/// A Service for the pods labelled `name`, on their port `port_name`;
/// `extra` goes first in its spec.
fn service_for(name: &str, port_name: &str, port: u16, extra: &str) -> String {
    format!(
        r#"apiVersion: v1
kind: Service
metadata:
  name: {name}
  labels:
    app.kubernetes.io/name: {name}
spec:
{extra}  selector:
    app.kubernetes.io/name: {name}
  ports:
    - name: {port_name}
      port: {port}
      targetPort: {port_name}
"#
    )
}
