/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "qkd_listener.h"
#include "qkd_ke.h"
#include "qkd_method.h"

#include <inttypes.h>

#include <daemon.h>
#include <processing/jobs/rekey_child_sa_job.h>

typedef struct private_qkd_listener_t private_qkd_listener_t;

struct private_qkd_listener_t {

	/** public interface */
	qkd_listener_t public;

	/** rekey CHILD_SAs created in IKE_AUTH at once */
	bool rekey_first_child;

	/** delay of that rekey */
	u_int rekey_delay_ms;
};

static qkd_ke_t *get_qkd(key_exchange_t *ke)
{
	if (qkd_ke_is(ke))
	{	/* checked by its destroy method, not only the method number */
		return (qkd_ke_t*)ke;
	}
	return NULL;
}

METHOD(listener_t, ike_keys, bool,
	private_qkd_listener_t *this, ike_sa_t *ike_sa, key_exchange_t *dh,
	chunk_t dh_other, chunk_t nonce_i, chunk_t nonce_r, ike_sa_t *rekey,
	shared_key_t *shared, auth_method_t method)
{
	qkd_ke_t *ke = get_qkd(dh);
	ike_sa_id_t *id;
	char usage[128];

	if (ke)
	{
		id = ike_sa->get_id(ike_sa);
		snprintf(usage, sizeof(usage), "IKE_SA %s[%u] %.16"PRIx64"_i "
				 "%.16"PRIx64"_r", ike_sa->get_name(ike_sa),
				 ike_sa->get_unique_id(ike_sa),
				 be64toh(id->get_initiator_spi(id)),
				 be64toh(id->get_responder_spi(id)));
		ke->annotate(ke, NULL, 0, usage);
		if (ke->uses_qkd(ke))
		{
			qkd_ke_sa_used_qkd(ike_sa->get_unique_id(ike_sa));
		}
	}
	return TRUE;
}

METHOD(listener_t, ike_rekey, bool,
	private_qkd_listener_t *this, ike_sa_t *old, ike_sa_t *new)
{
	if (qkd_ke_sa_has_used_qkd(old->get_unique_id(old)))
	{	/* sticky carries over to the new IKE_SA */
		qkd_ke_sa_used_qkd(new->get_unique_id(new));
	}
	return TRUE;
}

METHOD(listener_t, ike_state_change, bool,
	private_qkd_listener_t *this, ike_sa_t *ike_sa, ike_sa_state_t state)
{
	if (state == IKE_DESTROYING)
	{
		qkd_ke_sa_gone(ike_sa->get_unique_id(ike_sa));
	}
	return TRUE;
}

METHOD(listener_t, child_keys, bool,
	private_qkd_listener_t *this, ike_sa_t *ike_sa, child_sa_t *child_sa,
	bool initiator, key_exchange_t *dh, chunk_t nonce_i, chunk_t nonce_r)
{
	qkd_ke_t *ke = get_qkd(dh);
	uint32_t spis[2];
	char usage[128];

	if (ke)
	{	/* SPIs are allocated and installed when this hook runs */
		spis[0] = ntohl(child_sa->get_spi(child_sa, TRUE));
		spis[1] = ntohl(child_sa->get_spi(child_sa, FALSE));
		snprintf(usage, sizeof(usage), "CHILD_SA %s{%u} %.8x_i %.8x_o of "
				 "IKE_SA %s[%u]", child_sa->get_name(child_sa),
				 child_sa->get_unique_id(child_sa), spis[0], spis[1],
				 ike_sa->get_name(ike_sa), ike_sa->get_unique_id(ike_sa));
		if (ke->uses_qkd(ke))
		{
			qkd_ke_sa_used_qkd(ike_sa->get_unique_id(ike_sa));
		}
		if (ke->annotate(ke, spis, 2, usage))
		{
			DBG1(DBG_IKE, "qkd: CHILD_SA %s{%u} keyed with a QKD key",
				 child_sa->get_name(child_sa),
				 child_sa->get_unique_id(child_sa));
		}
	}
	return TRUE;
}

METHOD(listener_t, child_updown, bool,
	private_qkd_listener_t *this, ike_sa_t *ike_sa, child_sa_t *child_sa,
	bool up)
{
	child_cfg_t *cfg;
	proposal_t *proposal;
	uint16_t alg;
	job_t *job;

	if (!up || !this->rekey_first_child ||
		!ike_sa->has_condition(ike_sa, COND_ORIGINAL_INITIATOR))
	{
		return TRUE;
	}
	cfg = child_sa->get_config(child_sa);
	proposal = child_sa->get_proposal(child_sa);
	if (!cfg || !proposal ||
		cfg->get_algorithm(cfg, KEY_EXCHANGE_METHOD) != QKD_KE_METHOD ||
		proposal->get_algorithm(proposal, KEY_EXCHANGE_METHOD, &alg, NULL))
	{	/* not configured for qkd, or already keyed by a key exchange */
		return TRUE;
	}
	DBG1(DBG_IKE, "qkd: CHILD_SA %s{%u} was created without a key exchange, "
		 "rekeying it %s to key it with QKD", child_sa->get_name(child_sa),
		 child_sa->get_unique_id(child_sa),
		 this->rekey_delay_ms ? "shortly" : "now");
	job = (job_t*)rekey_child_sa_job_create(child_sa->get_protocol(child_sa),
									child_sa->get_spi(child_sa, TRUE),
									ike_sa->get_my_host(ike_sa));
	if (this->rekey_delay_ms)
	{
		lib->scheduler->schedule_job_ms(lib->scheduler, job,
										this->rekey_delay_ms);
	}
	else
	{
		lib->processor->queue_job(lib->processor, job);
	}
	return TRUE;
}

METHOD(qkd_listener_t, reload, void,
	private_qkd_listener_t *this)
{
	int delay;

	this->rekey_first_child = lib->settings->get_bool(lib->settings,
							"%s.plugins.qkd.rekey_first_child", FALSE, lib->ns);
	delay = lib->settings->get_int(lib->settings,
							"%s.plugins.qkd.rekey_first_child_delay_ms", 0,
							lib->ns);
	if (delay < 0)
	{
		DBG1(DBG_IKE, "qkd: rekey_first_child_delay_ms %d is negative, "
			 "using 0", delay);
		delay = 0;
	}
	this->rekey_delay_ms = delay;
}

METHOD(qkd_listener_t, destroy, void,
	private_qkd_listener_t *this)
{
	free(this);
}

/*
 * Described in header
 */
qkd_listener_t *qkd_listener_create(void)
{
	private_qkd_listener_t *this;

	INIT(this,
		.public = {
			.listener = {
				.ike_keys = _ike_keys,
				.ike_rekey = _ike_rekey,
				.ike_state_change = _ike_state_change,
				.child_keys = _child_keys,
				.child_updown = _child_updown,
			},
			.reload = _reload,
			.destroy = _destroy,
		},
	);
	reload(this);
	return &this->public;
}
