# Batik CRM: build and run the single `crm` binary on Debian bookworm.
FROM debian:bookworm AS build
WORKDIR /src
COPY . .
RUN bash scripts/setup.sh \
 && cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DCRM_BUILD_TESTS=OFF \
 && cmake --build build -j2 --target crm

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends libboost-json1.81.0 libboost-url1.81.0 \
      libsoci-core4.0 libsoci-sqlite3-4.0 libsoci-postgresql4.0 libsqlite3-0 libpq5 libssl3 libfmt9 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --home /var/lib/crm --create-home crm
COPY --from=build /src/build/crm /usr/local/bin/crm
USER crm
ENV CRM_HTTP_HOST=0.0.0.0 CRM_DATA_DIR=/var/lib/crm
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/crm"]
CMD ["serve", "--demo"]
