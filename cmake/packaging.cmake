# Install rules and the Debian package (`cmake --build build --target package`
# writes build/baton_VERSION-REVISION_ARCH.deb). The layout is the one the
# systemd units and the Ansible role rely on:
#   /usr/bin/baton                                  the binary
#   /lib/systemd/system/baton-*.service             units, never enabled by the package
#   /usr/share/polkit-1/rules.d/50-baton-scheduler.rules
#   /etc/baton/baton.toml                           conffile; postinst makes it 0640 root:baton
#   /usr/share/doc/baton/                           README.md, docs/*.md, copyright, changelog.Debian.gz
#   /usr/share/man/man1/baton.1.gz                  generated from the binary's --help
#   /usr/share/lintian/overrides/baton              tags that do not apply, with the reason
# The maintainer scripts (packaging/debian/) create the baton user and its
# directories; see packaging/debian/postinst.

# Directories the install creates are 0755, whatever the umask of the build.
set(CMAKE_INSTALL_DEFAULT_DIRECTORY_PERMISSIONS
    OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
set(BATON_PACKAGING_DIR ${PROJECT_SOURCE_DIR}/packaging)
set(BATON_PACKAGING_OUT ${PROJECT_BINARY_DIR}/packaging)
set(BATON_DOC_DIR share/doc/baton)

install(TARGETS baton RUNTIME DESTINATION bin)

# The units and the polkit rule come from systemd/; globbed so that a unit added
# there is packaged after the next build, without touching this file. Their
# destinations, like /etc/baton's, are absolute: they are where systemd, polkit
# and the units look, whatever the install prefix.
file(GLOB BATON_SYSTEMD_UNITS CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/systemd/*.service)
if(BATON_SYSTEMD_UNITS)
  install(FILES ${BATON_SYSTEMD_UNITS} DESTINATION /lib/systemd/system)
endif()
file(GLOB BATON_POLKIT_RULES CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/systemd/baton-scheduler.rules)
if(BATON_POLKIT_RULES)
  install(FILES ${BATON_POLKIT_RULES} DESTINATION /usr/share/polkit-1/rules.d
          RENAME 50-baton-scheduler.rules)
endif()

install(FILES ${BATON_PACKAGING_DIR}/baton.toml DESTINATION /etc/baton)

install(FILES ${PROJECT_SOURCE_DIR}/README.md ${BATON_PACKAGING_DIR}/copyright
        DESTINATION ${BATON_DOC_DIR})
file(GLOB BATON_DOCS CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/docs/*.md)
install(FILES ${BATON_DOCS} DESTINATION ${BATON_DOC_DIR}/docs)

# Compressed as dh_compress would: gzip -9 without a name or time stamp, so the
# same input gives the same package.
find_program(BATON_GZIP gzip REQUIRED)
add_custom_command(
  OUTPUT ${BATON_PACKAGING_OUT}/changelog.Debian.gz
  COMMAND ${CMAKE_COMMAND} -E make_directory ${BATON_PACKAGING_OUT}
  COMMAND ${BATON_GZIP} -9nc ${BATON_PACKAGING_DIR}/changelog > ${BATON_PACKAGING_OUT}/changelog.Debian.gz
  DEPENDS ${BATON_PACKAGING_DIR}/changelog
  COMMENT "Compressing the Debian changelog"
  VERBATIM)

# The man page is generated from the binary's own --help, so it cannot drift
# from the CLI: help2man turns `baton --help` into NAME, SYNOPSIS and OPTIONS;
# man/commands.sh walks every subcommand's --help into a COMMANDS section; the
# hand-written parts (environment, files, exit status) are in man/baton.h2m.
find_program(BATON_HELP2MAN help2man)
if(BATON_HELP2MAN)
  file(GLOB BATON_MAN_INPUTS CONFIGURE_DEPENDS ${BATON_PACKAGING_DIR}/man/*)
  add_custom_command(
    OUTPUT ${BATON_PACKAGING_OUT}/baton.1.gz
    COMMAND ${CMAKE_COMMAND} -E make_directory ${BATON_PACKAGING_OUT}
    COMMAND sh ${BATON_PACKAGING_DIR}/man/commands.sh $<TARGET_FILE:baton>
            > ${BATON_PACKAGING_OUT}/commands.h2m
    COMMAND ${CMAKE_COMMAND} -E env LC_ALL=C.UTF-8 ${BATON_HELP2MAN} --no-info --section=1
            "--name=workflow scheduler with a failover controller"
            --include=${BATON_PACKAGING_OUT}/commands.h2m
            --include=${BATON_PACKAGING_DIR}/man/baton.h2m
            --output=${BATON_PACKAGING_OUT}/baton.1 $<TARGET_FILE:baton>
    COMMAND ${BATON_GZIP} -9nf ${BATON_PACKAGING_OUT}/baton.1
    DEPENDS baton ${BATON_MAN_INPUTS}
    COMMENT "Generating the baton(1) man page"
    VERBATIM)
  add_custom_target(baton_manpage ALL
                    DEPENDS ${BATON_PACKAGING_OUT}/baton.1.gz ${BATON_PACKAGING_OUT}/changelog.Debian.gz)
  install(FILES ${BATON_PACKAGING_OUT}/baton.1.gz DESTINATION share/man/man1)
else()
  message(WARNING "help2man not found (scripts/install-deps.sh installs it): the package will "
                  "have no man page")
  add_custom_target(baton_manpage ALL DEPENDS ${BATON_PACKAGING_OUT}/changelog.Debian.gz)
endif()
install(FILES ${BATON_PACKAGING_OUT}/changelog.Debian.gz DESTINATION ${BATON_DOC_DIR})
install(FILES ${BATON_PACKAGING_DIR}/lintian-overrides DESTINATION share/lintian/overrides
        RENAME baton)

# The package.
execute_process(COMMAND dpkg --print-architecture OUTPUT_VARIABLE BATON_DEB_ARCHITECTURE
                OUTPUT_STRIP_TRAILING_WHITESPACE)
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME baton)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_PACKAGE_DIRECTORY ${PROJECT_BINARY_DIR})
set(CPACK_STRIP_FILES ON)
set(CPACK_PACKAGE_CONTACT "Baton developers <dev@baton.invalid>")
set(CPACK_DEBIAN_PACKAGE_MAINTAINER ${CPACK_PACKAGE_CONTACT})
# A Debian revision makes it a non-native package: packaging/changelog is the
# packaging's history, installed as changelog.Debian.gz.
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_PACKAGE_ARCHITECTURE ${BATON_DEB_ARCHITECTURE})
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "workflow scheduler with a failover controller")
# The extended description, after CPACK_PACKAGE_DESCRIPTION_SUMMARY; CPack
# indents its lines and turns blank lines into " .".
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION "Baton runs DAGs of shell tasks written in TOML files on cron schedules. Its
metadata store is SQLite on one machine, or MySQL/MariaDB shared by a
cluster whose workers take tasks from Redis queues.

On a cluster with several masters, a failover controller on each master
keeps exactly one scheduler running: the controllers elect one through a
lease in the store, and when the scheduler's master dies a standby starts a
new scheduler on another master within seconds.

This package installs the baton command and systemd units for the
scheduler, the worker agent and the failover controller. It enables and
starts none of them.")
# dpkg-shlibdeps fills in the libraries; the maintainer scripts need adduser.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
# polkitd applies the rule that lets the controller start its schedulers.
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "mariadb-server, redis-server, openssh-server, polkitd")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${BATON_PACKAGING_DIR}/debian/conffiles ${BATON_PACKAGING_DIR}/debian/postinst
    ${BATON_PACKAGING_DIR}/debian/prerm ${BATON_PACKAGING_DIR}/debian/postrm)
# Scripts 0755, conffiles 0644, whatever the modes in the checkout.
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

# The package's path, for the integration test that installs it.
set(BATON_DEB_FILE
    ${CPACK_PACKAGE_DIRECTORY}/${CPACK_PACKAGE_NAME}_${CPACK_PACKAGE_VERSION}-${CPACK_DEBIAN_PACKAGE_RELEASE}_${BATON_DEB_ARCHITECTURE}.deb)

include(CPack)
