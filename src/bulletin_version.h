
/*
 * Copyright (C) bulletin authors
 *
 * The one version of the module, the tools and the packages.
 */


#ifndef _BULLETIN_VERSION_H_INCLUDED_
#define _BULLETIN_VERSION_H_INCLUDED_


#define BULLETIN_VERSION  "0.4.1"


#endif /* _BULLETIN_VERSION_H_INCLUDED_ */
