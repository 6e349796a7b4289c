# share/ - setup scripts, man pages and bash completion. The man pages of
# the commands and the completion script are generated from the option
# registry by the freshly built fault with the in-tree plugins, so they
# always match the real flags; fault-plugin(7) is written by hand.
dist_noinst_SCRIPTS += share/setup-debian.sh share/quickstart.sh

GENERATED_MANS = share/man/fault.1 share/man/fault-run.1 share/man/fault-plugins.1
if PLUGIN_DEMO
GENERATED_MANS += share/man/fault-demo.1
endif
if PLUGIN_SCENARIO
GENERATED_MANS += share/man/fault-scenario.1
endif
man1_MANS = $(GENERATED_MANS)
dist_man7_MANS = share/man/fault-plugin.7
bashcompletiondir = $(datadir)/bash-completion/completions
bashcompletion_DATA = share/bash-completion/fault
CLEANFILES += $(GENERATED_MANS) share/man/fault-demo.1 share/man/fault-scenario.1 \
	share/bash-completion/fault

# Runs the built fault with only the in-tree plugins.
RUN_BUILT_FAULT = FAULT_NO_DEFAULT_PLUGINS=1 \
	FAULT_PLUGIN_PATH="$$(ls -d $(abs_top_builddir)/plugins/*/.libs | tr '\n' :)" \
	$(abs_top_builddir)/core/fault
DOC_DEPS = core/fault$(EXEEXT) $(plugin_LTLIBRARIES)

share/man/fault.1: $(DOC_DEPS)
	$(AM_V_GEN)$(MKDIR_P) share/man && $(RUN_BUILT_FAULT) manpage > $@.tmp && mv $@.tmp $@
share/man/fault-run.1: $(DOC_DEPS)
	$(AM_V_GEN)$(MKDIR_P) share/man && $(RUN_BUILT_FAULT) manpage run > $@.tmp && mv $@.tmp $@
share/man/fault-plugins.1: $(DOC_DEPS)
	$(AM_V_GEN)$(MKDIR_P) share/man && $(RUN_BUILT_FAULT) manpage plugins > $@.tmp && mv $@.tmp $@
share/man/fault-demo.1: $(DOC_DEPS)
	$(AM_V_GEN)$(MKDIR_P) share/man && $(RUN_BUILT_FAULT) manpage demo > $@.tmp && mv $@.tmp $@
share/man/fault-scenario.1: $(DOC_DEPS)
	$(AM_V_GEN)$(MKDIR_P) share/man && $(RUN_BUILT_FAULT) manpage scenario > $@.tmp && mv $@.tmp $@
share/bash-completion/fault: $(DOC_DEPS)
	$(AM_V_GEN)$(MKDIR_P) share/bash-completion && $(RUN_BUILT_FAULT) completion bash > $@.tmp && mv $@.tmp $@
