# deberta-ts server image: `deberta serve` on worker threads, as a non-root user.
#   docker build -t deberta-ts .
#   docker run --rm -p 8080:8080 deberta-ts                                  # the embedded spam model
#   docker run --rm -p 8080:8080 -v /path/to/ckpt:/models/cls:ro deberta-ts \
#     serve --host 0.0.0.0 --port 8080 --model cls=/models/cls
# Probes: GET /health (alive), GET /ready (models loaded, workers up; 503 once shutting down).
# Kubernetes manifests: deploy/k8s; batch jobs over a corpus: docs/scale-out.md.

# --- build: compile src/ to dist/ -----------------------------------------------------------------------
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/build.mjs scripts/
COPY src src
RUN npm run build

# --- runtime: production dependencies, the compiled code and the embedded models ------------------------
FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force
COPY --from=build /app/dist dist
COPY bin bin
COPY models models
# The official image's unprivileged user (uid 1000); nothing under /app is writable by it.
USER node
EXPOSE 8080
# Exec form: node is PID 1 and gets SIGTERM itself (graceful drain: docs/server.md).
ENTRYPOINT ["node", "bin/deberta.js"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8080", "--model", "models/deberta-v3-brown-small-spam", "--no-static"]
