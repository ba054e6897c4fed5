{#- The OCI labels every runtime stage carries; the including blueprint sets runtime_image. #}
LABEL org.opencontainers.image.title={{ service.name }} \
{% if service.description %}
      org.opencontainers.image.description={{ service.description }} \
{% endif %}
{% if platform.repository %}
      org.opencontainers.image.source={{ platform.repository }} \
{% endif %}
      org.opencontainers.image.base.name={{ runtime_image }}
