# Redis from the offline Debian base (compose/build-offline-images.sh): the same redis-server
# the root filesystem already holds, run as its own user with data under /data. The Compose file
# passes the persistence flags (--appendonly yes), as it does for the official redis image.
ARG BASE_IMAGE=stateless-cluster/base:bookworm
FROM ${BASE_IMAGE}
RUN mkdir -p /data && chown redis:redis /data
VOLUME /data
WORKDIR /data
USER redis
EXPOSE 6379
CMD ["redis-server", "--dir", "/data", "--protected-mode", "no"]
